// Validates an AsyncAPI document with the AsyncAPI project's own parser (the one its CLI uses):
// prints every diagnostic and exits non-zero on any of severity error, or when nothing parsed.
// Usage: node validate.mjs ../asyncapi.yaml
import { Parser, fromFile } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'information', 'hint'];
const path = process.argv[2] ?? new URL('../asyncapi.yaml', import.meta.url).pathname;

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path).parse();

for (const diagnostic of diagnostics) {
  const where = diagnostic.path.length > 0 ? diagnostic.path.join('.') : '(document)';
  const line = diagnostic.range ? diagnostic.range.start.line + 1 : '?';
  console.log(`${SEVERITY[diagnostic.severity] ?? diagnostic.severity}: ${where} (line ${line}): ${diagnostic.message} [${diagnostic.code}]`);
}
const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
if (document === undefined || errors.length > 0) {
  console.log(`${path}: invalid, ${errors.length} error(s)`);
  process.exit(1);
}
const channels = document.channels().all().map((channel) => channel.address());
const operations = document.operations().all().map((operation) => operation.id());
console.log(`${path}: valid AsyncAPI ${document.version()}; channels ${channels.join(', ')}; operations ${operations.join(', ')}`);
