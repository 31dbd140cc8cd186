/**
 * Validation against the OASIS SAML 2.0 metadata schema (saml-schema-metadata-2.0.xsd
 * and the schemas it imports, shipped in schemas/saml/), with libxml2's xmllint
 * compiled to WebAssembly (xmllint-wasm).
 *
 * Both the module and the schema texts are loaded on first use, once. xmllint-wasm
 * runs each validation in a fresh worker over an in-memory file system holding only
 * the files given to it: every import of the schemas names a file of schemas/saml/
 * (see its README), all of them preloaded, so validation never reads the disk or the
 * network. It takes a few hundred milliseconds (a worker and a WebAssembly instance
 * per call), which is why it is kept for metadata, read when an SP is configured.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { XMLFileInfo } from 'xmllint-wasm';
import { packageRoot } from '../paths.js';

export const metadataSchemaDir = path.join(packageRoot, 'schemas', 'saml');

/** The main schema first, then every file its imports reach (their names are the schemaLocations). */
const SCHEMA_FILES = [
  'saml-schema-metadata-2.0.xsd',
  'saml-schema-assertion-2.0.xsd',
  'xmldsig-core-schema.xsd',
  'xenc-schema.xsd',
  'xml.xsd',
] as const;

/** The name xmllint gives the document in its messages; the caller names the real source. */
const DOCUMENT_NAME = 'metadata.xml';

/** One schema violation: the line of the document (when xmllint gives one) and xmllint's own words. */
export interface SchemaProblem {
  line: number | undefined;
  message: string;
}

let xmllint: Promise<typeof import('xmllint-wasm')> | undefined;
let schemas: Promise<XMLFileInfo[]> | undefined;

function loadSchemas(): Promise<XMLFileInfo[]> {
  return Promise.all(
    SCHEMA_FILES.map(async (fileName) => {
      const file = path.join(metadataSchemaDir, fileName);
      try {
        return { fileName, contents: await fs.readFile(file, 'utf8') };
      } catch (err) {
        throw new Error(`The SAML metadata schema ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): the package is incomplete.`, { cause: err });
      }
    }),
  );
}

/**
 * Validates a metadata document against the metadata schema. Resolves to the
 * violations found, in document order (none: valid). Rejects only when xmllint
 * itself fails (a broken schema folder), which is a fault of the installation.
 */
export async function validateMetadataSchema(xml: string): Promise<SchemaProblem[]> {
  xmllint ??= import('xmllint-wasm');
  schemas ??= loadSchemas().catch((err: unknown) => {
    schemas = undefined;
    throw err;
  });
  const [{ validateXML }, [main, ...imported]] = await Promise.all([xmllint, schemas]);
  const result = await validateXML({
    xml: [{ fileName: DOCUMENT_NAME, contents: xml }],
    schema: [main!],
    preload: imported,
  });
  if (result.valid) return [];
  return result.errors.map((e) => ({
    line: e.loc?.fileName === DOCUMENT_NAME ? e.loc.lineNumber : undefined,
    // "Schemas validity error : Element '…': …" (older libxml2: "element X: Schemas validity error : …"): keep what follows.
    message: e.message.replace(/^(?:element [^:]*: )?Schemas (?:validity|parser) error : /, '').trim(),
  }));
}
