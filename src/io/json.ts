/** JSON values as JSON.parse returns them (config files, JSONL records). */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject { [key: string]: JsonValue }
