// Proves a newer schema can read data written with an older one, and names the field when it cannot.
import avro from 'avsc';

/**
 * Returns null when `reader` can read data written with `writer` (Avro schema resolution),
 * else a sentence naming the first field that breaks it.
 */
export function explainIncompatibility(reader: avro.Type, writer: avro.Type): string | null {
  try {
    reader.createResolver(writer);
    return null;
  } catch (err) {
    return findCulprit(reader, writer, '') ?? `schemas do not resolve (${(err as Error).message})`;
  }
}

function findCulprit(reader: avro.Type, writer: avro.Type, path: string): string | null {
  if (reader.typeName === 'record' && writer.typeName === 'record') {
    const r = reader as avro.types.RecordType;
    const w = writer as avro.types.RecordType;
    for (const field of r.fields) {
      const names = [field.name, ...(field.aliases ?? [])];
      const wField = w.fields.find((f) => names.includes(f.name));
      const fieldPath = path ? `${path}.${field.name}` : field.name;
      if (!wField) {
        if (field.defaultValue() === undefined) {
          return `field "${fieldPath}" is missing from the older data and has no default`;
        }
        continue;
      }
      const inner = explainIncompatibility(field.type, wField.type);
      if (inner !== null) return findCulprit(field.type, wField.type, fieldPath) ?? `field "${fieldPath}": ${inner}`;
    }
    return null;
  }
  if (reader.typeName === 'enum' && writer.typeName === 'enum') {
    const r = reader as avro.types.EnumType;
    const w = writer as avro.types.EnumType;
    const lost = w.symbols.filter((s) => !r.symbols.includes(s));
    if (lost.length > 0 && (r as unknown as { default?: string }).default === undefined) {
      return `field "${path}" drops enum symbol(s) ${lost.join(', ')} and has no enum default`;
    }
  }
  try {
    reader.createResolver(writer);
    return null;
  } catch {
    return `field "${path || '(root)'}" changed from ${describe(writer)} to ${describe(reader)}, which Avro cannot resolve`;
  }
}

function describe(type: avro.Type): string {
  return type.name ?? type.typeName;
}
