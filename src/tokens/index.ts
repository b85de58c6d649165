/** The token counter and the model table (encodings, context windows, output limits). */
export { countMessageTokens, countRequestTokens, countTokens, contentText, loadEncoding, loadEncodingsFor, maxTokensOf } from './count.js';
export { isKnownModel, modelInfo, UNKNOWN_MODEL, type EncodingName, type ModelInfo } from './models.js';
