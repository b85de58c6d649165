import type { ProviderModule } from './provider.js';
import { createHttpProvider, type HttpWire } from './http.js';

const WIRE: HttpWire = {
  format: 'openai',
  defaultUrl: null,
  callerCredentials: ['authorization', 'api-key'],
  requestIdHeader: 'x-request-id',
  // Older servers (Ollama, llama.cpp, vLLM before 0.6) know only `max_tokens`.
  maxTokensField: 'max_tokens',
};

/** `openai_compatible`: any server with OpenAI's chat API (vLLM, Ollama, LM Studio, Gemini's and Groq's OpenAI endpoints). */
export const openaiCompatible: ProviderModule = {
  name: 'openai_compatible',
  format: 'openai',
  summary: '`openai_compatible`: any server with the OpenAI API (vLLM, Ollama, LM Studio, llama.cpp, Gemini\'s and Groq\'s OpenAI endpoints; needs `url`)',
  defaultUrl: null,
  inProcess: false,
  keys: {},
  create: (config, deps) => createHttpProvider(config, deps, WIRE),
};
