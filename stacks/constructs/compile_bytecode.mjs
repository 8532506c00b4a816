// Compiles every .py file of a Lambda asset directory to __pycache__/*.pyc with the CPython of the
// Lambda runtime — run by Node from Pyodide's WebAssembly build (npm package `pyodide`), since the
// machines that build the asset have no native CPython of that version.
//
//   node compile_bytecode.mjs <pyodide dir> <asset dir> <display root>
//
// Bytecode and the .pyc (marshal) format do not depend on the platform: what CPython 3.14 compiles in
// WebAssembly is what CPython 3.14 on arm64 Lambda loads. The .pyc files are hash-based and unchecked
// (PEP 552): Lambda's code directory is read-only and the zip does not keep the sources' timestamps, so
// a timestamp-checked .pyc could be judged stale and every cold start would compile again.
// Prints one JSON object: {"version", "magic", "cacheTag", "compiled", "failed"}.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, assetDir, displayRoot] = process.argv.slice(2);
if (!pyodideDir || !assetDir || !displayRoot) {
  console.error("usage: node compile_bytecode.mjs <pyodide dir> <asset dir> <display root>");
  process.exit(2);
}
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: path.resolve(pyodideDir) + path.sep });
pyodide.FS.mkdirTree("/asset");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: path.resolve(assetDir) }, "/asset");
pyodide.globals.set("display_root", displayRoot);
const report = pyodide.runPython(`
import importlib.util, json, os, py_compile, sys

compiled, failed = 0, []
for folder, dirs, files in os.walk("/asset"):
    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        source = os.path.join(folder, name)
        relative = os.path.relpath(source, "/asset")
        try:
            py_compile.compile(
                source,
                cfile=importlib.util.cache_from_source(source),
                dfile=display_root.rstrip("/") + "/" + relative,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            compiled += 1
        except py_compile.PyCompileError as exc:
            failed.append({"file": relative, "error": exc.msg.strip().splitlines()[-1]})
json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "magic": importlib.util.MAGIC_NUMBER.hex(),
    "cacheTag": sys.implementation.cache_tag,
    "compiled": compiled,
    "failed": failed,
})
`);
console.log(report);
