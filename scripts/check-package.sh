#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, then install the tarball into an empty project (the
# npm registry is the only network it needs) and use it the way README.md says: the `bone` command,
# an ESM import that trains two steps, and a TypeScript file checked against the shipped types.
# Usage: bash scripts/check-package.sh   (from anywhere; leaves nothing behind)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bone-package-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"

echo "== npm pack (builds through prepack)"
npm pack --json --pack-destination "$WORK" > "$WORK/pack.json"
node - "$WORK/pack.json" <<'EOF'
// What a user gets: the compiled library, its declarations, README, LICENSE and package.json, nothing else.
const [{ filename, files, size }] = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const wanted = (p) => ['package.json', 'README.md', 'LICENSE'].includes(p) || /^dist\/.+\.(js|d\.ts)$/.test(p);
const unwanted = files.map((f) => f.path).filter((p) => !wanted(p));
if (unwanted.length) { console.error(`the package holds files a user should not get: ${unwanted.join(', ')}`); process.exit(1); }
for (const must of ['LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/web/index.js', 'dist/web/index.d.ts', 'dist/browser/bone-peft.js']) {
  if (!files.some((f) => f.path === must)) { console.error(`the package lacks ${must}`); process.exit(1); }
}
console.log(`${filename}: ${files.length} files, ${(size / 1024).toFixed(0)} kB packed`);
EOF
TARBALL="$(ls "$WORK"/bone-peft-*.tgz)"

echo "== install into an empty project"
mkdir "$WORK/app"
cd "$WORK/app"
# As README.md's "Install" section tells a user: deny onnxruntime-node's postinstall (it only
# downloads optional CUDA files, from outside the npm registry).
cat > package.json <<'EOF'
{ "name": "app", "private": true, "type": "module", "allowScripts": { "onnxruntime-node": false } }
EOF
# onnxruntime-web is bone-peft/web's optional peer dependency (143 MB that Node users do not need): installed as README says.
npm install --no-audit --no-fund "$TARBALL" typescript@~6.0.3 @types/node@^20 "onnxruntime-web@$(node -p "require('$ROOT/package.json').peerDependencies['onnxruntime-web']")" 2>&1 | tail -n 3

echo "== npx bone --version / bone train --help"
test "$(npx --no-install bone --version)" = "$(node -p "require('$ROOT/package.json').version")"
npx --no-install bone train --help | grep -q -- '--model'

echo "== ESM import: two training steps on the demo model"
cat > train.mjs <<'EOF'
import { getPeftModel, MissConfig, loadPretrained, loadJsonlDataset, makeBatches, Trainer } from 'bone-peft';
const [modelDir, dataFile] = process.argv.slice(2);
const { model, tokenizer } = await loadPretrained(modelDir);
const peft = getPeftModel(model, new MissConfig({ r: 16, targetModules: ['q_proj', 'v_proj'] }));
const data = await loadJsonlDataset(dataFile, tokenizer, { maxLength: 64 });
const batches = makeBatches(data.examples.slice(0, 8), { batchSize: 4, padTokenId: tokenizer.padTokenId });
const result = await new Trainer(peft, batches, { lr: 1e-2, maxSteps: 2 }).run();
const losses = result.history.map((h) => h.loss);
if (result.step !== 2 || losses.length !== 2 || !losses.every(Number.isFinite)) throw new Error(`expected 2 finite steps, got ${JSON.stringify(result)}`);
console.log(`trained 2 steps, losses ${losses.map((l) => l.toFixed(4)).join(', ')}`);
EOF
node train.mjs "$ROOT/demo/model" "$ROOT/demo/data/train.jsonl"
node --input-type=module -e "const cli = await import('bone-peft/cli'); if (typeof cli.runTrain !== 'function') throw new Error('bone-peft/cli has no runTrain');"

echo "== TypeScript consumer against the shipped declarations"
cat > tsconfig.json <<'EOF'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true, "noEmit": true, "skipLibCheck": false, "types": ["node"] }, "files": ["consumer.ts"] }
EOF
cat > consumer.ts <<'EOF'
import { getPeftModel, MissConfig, LoraConfig, loadPretrained, loadJsonlDataset, makeBatches, Trainer, type TrainResult, type PeftModel, type CausalLM } from 'bone-peft';
const { model, tokenizer } = await loadPretrained('./model');
const peft: PeftModel<CausalLM> = getPeftModel(model, new MissConfig({ r: 16, targetModules: ['q_proj'], initWeights: 'bat' }));
const lora = new LoraConfig({ r: 8, loraAlpha: 16 });
const data = await loadJsonlDataset('train.jsonl', tokenizer!, { maxLength: 512 });
const batches = makeBatches(data.examples, { batchSize: 4, padTokenId: tokenizer!.padTokenId! });
const result: TrainResult = await new Trainer(peft, batches, { lr: 2e-4, maxSteps: 1 }).run();
const step: number = result.step;
// @ts-expect-error r is a number: the declarations are real types, not any
new MissConfig({ r: '16' });
export { lora, step };
EOF
npx --no-install tsc -p tsconfig.json

echo "== bone-peft/web: resolves, and a browser TypeScript consumer (DOM types, no Node types) checks"
node --input-type=module -e "
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
for (const name of ['bone-peft/web', 'bone-peft/web/bundle']) {
  const file = fileURLToPath(import.meta.resolve(name));
  if (!existsSync(file)) throw new Error(name + ' resolves to ' + file + ', which is missing');
  console.log(name + ' -> ' + file.slice(file.indexOf('node_modules')));
}"
cat > tsconfig.web.json <<'EOF'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true, "noEmit": true, "skipLibCheck": false, "lib": ["ES2023", "DOM", "DOM.Iterable", "DOM.AsyncIterable"], "types": [] }, "files": ["web-consumer.ts"] }
EOF
cat > web-consumer.ts <<'EOF'
import { folderFromFiles, fileRef, installWebPlatform, loadPretrained, getPeftModel, MissConfig, loadJsonlDataset, makeBatches, Trainer, adapterFiles, memoryFileSystem, type PathRef } from 'bone-peft/web';
installWebPlatform({ wasmPaths: '/ort/', numThreads: 2 });
const input = document.querySelector('input') as HTMLInputElement;
const folder: PathRef = folderFromFiles(input.files!);
const { model, tokenizer } = await loadPretrained(folder);
const peft = getPeftModel(model, new MissConfig({ r: 16, targetModules: 'all-linear' }));
const data = await loadJsonlDataset(fileRef(input.files![0]!), tokenizer!, { maxLength: 64 });
const memory = memoryFileSystem();
await new Trainer(peft, makeBatches(data.examples, { batchSize: 4, padTokenId: tokenizer!.padTokenId! }), { maxSteps: 1, outputDir: memory.at('run') }).run();
const files: Map<string, Uint8Array> = await adapterFiles(peft);
// @ts-expect-error the web entry's functions are typed, not any
installWebPlatform({ numThreads: 'two' });
export { files };
EOF
npx --no-install tsc -p tsconfig.web.json
echo "package check passed"
