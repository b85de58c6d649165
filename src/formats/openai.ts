import type { GatewayError } from '../errors.js';
import type { WireFormat } from './format.js';
import { openaiAnswerText, openaiEventText, openaiRequestText } from './openai-text.js';

/** OpenAI's API: `{"error":{"message","type","param","code"}}`, and an SSE `error` event mid-stream. */
export const OPENAI_FORMAT: WireFormat = Object.freeze<WireFormat>({
  name: 'openai',
  jsonEndpoints: new Set([
    '/v1/chat/completions',
    '/v1/completions',
    '/v1/embeddings',
    '/v1/moderations',
    '/v1/images/generations',
    '/v1/responses',
  ]),
  renderError(error: GatewayError) {
    return { status: error.status, body: Buffer.from(JSON.stringify(error.toJSON())) };
  },
  errorEvent(error: GatewayError) {
    return Buffer.from(`event: error\ndata: ${JSON.stringify(error.toJSON())}\n\n`);
  },
  requestText: openaiRequestText,
  answerText: openaiAnswerText,
  eventText: openaiEventText,
  addSystemText(body, text) {
    if (Array.isArray(body.messages)) {
      body.messages.unshift({ role: 'system', content: text });
      return true;
    }
    if (body.input !== undefined) {
      body.instructions = typeof body.instructions === 'string' && body.instructions ? `${text}\n\n${body.instructions}` : text;
      return true;
    }
    return false;
  },
});
