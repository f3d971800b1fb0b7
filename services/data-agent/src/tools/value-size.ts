import {
  DuckDBArrayVector,
  DuckDBBigNumVector,
  DuckDBBitVector,
  DuckDBBlobVector,
  DuckDBGeometryVector,
  DuckDBListVector,
  DuckDBMapVector,
  DuckDBStructVector,
  DuckDBUnionVector,
  DuckDBVarCharVector,
  DuckDBVector,
} from "@duckdb/node-api";

// Sizing a value from DuckDB's vectors without converting it: a 100 MB string or a list of ten
// million numbers is refused before it becomes a JavaScript value. Strings, blobs, bit strings,
// big numbers and geometries are 16-byte `string_t` entries whose first 4 bytes hold the length
// in bytes; @duckdb/node-api keeps the entries in a private `dataView` and the NULL mask in a
// private `validity`. When a future version hides them, sizing falls back to converting the
// value, which the SQL process's memory limit still bounds.

const STRING_T_VECTORS = [DuckDBVarCharVector, DuckDBBlobVector, DuckDBBitVector, DuckDBBigNumVector, DuckDBGeometryVector];

/** The private members of a `string_t` vector read here. */
interface StringTInternals {
  readonly dataView?: unknown;
  readonly validity?: { itemValid?: (itemIndex: number) => boolean };
}

/** JSON bytes of `null`. */
const NULL_BYTES = 4;

/**
 * A lower bound of the bytes of item `index` of `vector` as JSON (what the tool returns), read
 * from DuckDB's vectors without converting the item: string bytes plus quotes, one byte per
 * number, lists and structs recursively with their separators. Stops adding once the bound
 * exceeds `budget` (bytes), so a ten-million-element list costs no more than `budget` steps.
 */
export function jsonBytesAtLeast(vector: DuckDBVector, index: number, budget: number): number {
  if (STRING_T_VECTORS.some((type) => vector instanceof type)) return stringTBytes(vector, index);
  if (vector instanceof DuckDBListVector) return listBytes(vector.getItemVector(index), budget);
  if (vector instanceof DuckDBStructVector) return structBytes(vector, index, budget);
  if (vector instanceof DuckDBArrayVector) {
    const child = innerVector(vector);
    if (!child) return convertedBytes(vector, index);
    const length = vector.type.length;
    const { validity } = vector as unknown as StringTInternals;
    if (validity?.itemValid?.(index) === false) return NULL_BYTES;
    return listBytes(child.slice(index * length, length), budget);
  }
  // A MAP wraps a list of key/value structs, a UNION a struct of its tag and members.
  if (vector instanceof DuckDBMapVector || vector instanceof DuckDBUnionVector) {
    const inner = innerVector(vector);
    if (inner instanceof DuckDBListVector) return listBytes(inner.getItemVector(index), budget);
    if (inner instanceof DuckDBStructVector) return structBytes(inner, index, budget);
    return convertedBytes(vector, index);
  }
  // Numbers, booleans, dates, times, UUIDs, enums: small and fixed-size. (VARIANT values are left
  // to the exact check after conversion: their physical layout says little about their JSON.)
  return 1;
}

function stringTBytes(vector: DuckDBVector, index: number): number {
  const { dataView, validity } = vector as unknown as StringTInternals;
  if (dataView instanceof DataView && dataView.byteLength >= (index + 1) * 16 && typeof validity?.itemValid === "function") {
    return validity.itemValid(index) ? dataView.getUint32(index * 16, true) + 2 : NULL_BYTES;
  }
  return convertedBytes(vector, index);
}

/** `[a,b,…]`: brackets, then each element and its comma, until over `budget`. */
function listBytes(items: DuckDBVector | null, budget: number): number {
  if (items === null) return NULL_BYTES;
  const count = items.itemCount;
  // Every element takes at least one byte and a comma: a long list needs no further look.
  if (2 + 2 * count > budget) return 2 + 2 * count;
  let total = 2 + Math.max(0, count - 1);
  for (let i = 0; i < count && total <= budget; i++) total += jsonBytesAtLeast(items, i, budget - total);
  return total;
}

/** `{"k":v,…}`: braces, then each key with quotes, colon and comma, and its value, until over `budget`. */
function structBytes(vector: DuckDBStructVector, index: number, budget: number): number {
  if (!vector.isItemValid(index)) return NULL_BYTES;
  const names = vector.type.entryNames;
  let total = 2;
  for (let i = 0; i < names.length && total <= budget; i++) {
    total += (names[i]?.length ?? 0) + 4 + jsonBytesAtLeast(vector.entryVectorAt(i), index, budget - total);
  }
  return total;
}

/** The vector a MAP, UNION or ARRAY vector keeps its items in (a private member), if found. */
function innerVector(vector: DuckDBVector): DuckDBVector | undefined {
  return Object.values(vector).find((member): member is DuckDBVector => member instanceof DuckDBVector);
}

/** The fallback: converts the item and measures it (its size is bounded by the SQL process's memory limit). */
function convertedBytes(vector: DuckDBVector, index: number): number {
  const item = vector.getItem(index);
  if (item === null) return NULL_BYTES;
  const text = typeof item === "string" ? item : String(item);
  return Buffer.byteLength(text) + 2;
}
