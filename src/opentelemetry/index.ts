/**
 * `latchkey/opentelemetry`: metrics and spans for every lock, from the diagnostics events. Needs
 * `@opentelemetry/api` (an optional peer dependency); the rest of latchkey never loads it.
 *
 * @example
 * import { instrumentLatchkey } from 'latchkey/opentelemetry';
 * const uninstrument = instrumentLatchkey();
 */
export type { LockKind } from '../core/backend.js';
export {
  type InstrumentationOptions,
  instrumentLatchkey,
  type Uninstrument,
} from './instrument.js';
export { ATTRIBUTES, LOST_EVENT, MAX_LOCK_GROUPS, METRICS, SPANS } from './names.js';
