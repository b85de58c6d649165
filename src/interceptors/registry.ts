import type { InterceptorModule } from '../features/feature.js';
import { abTest } from './ab-test.js';
import { contentFilter } from './content-filter.js';
import { custom } from './custom.js';
import { piiDetector } from './pii-detector.js';
import { prompt } from './prompt.js';
import { promptGuard } from './prompt-guard.js';
import { promptShield } from './prompt-shield.js';
import { semanticClassifier } from './semantic-classifier.js';
import { transform } from './transform.js';

/** Every interceptor the gateway knows. Adding one is a file in this folder plus one line here. */
export const INTERCEPTORS: readonly InterceptorModule[] = [
  piiDetector,
  contentFilter,
  promptGuard,
  promptShield,
  semanticClassifier,
  abTest,
  transform,
  prompt,
  custom,
];
