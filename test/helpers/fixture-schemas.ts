// Test-only event types (test/fixtures/schemas/): every_type declares one field of every Avro type and logical type hourglass supports.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A schemas folder for Registry.load(dir), holding the every_type event type (v1, and v2 with one defaulted field more). */
export const FIXTURE_SCHEMAS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/schemas');
