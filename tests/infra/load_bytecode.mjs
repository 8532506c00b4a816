// Imports modules of a bundled Lambda asset with the runtime's CPython (Pyodide's), with compiling from
// source forbidden: an import succeeds only if the shipped __pycache__/*.pyc was loaded as it is.
//
//   node load_bytecode.mjs <pyodide dir> <asset dir> <module> [<module> ...]
//
// Prints one JSON object: {"version", "loaded": {module: cached file}, "errors": {module: message}}.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, assetDir, ...modules] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: path.resolve(pyodideDir) + path.sep });
pyodide.FS.mkdirTree("/var/task");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: path.resolve(assetDir) }, "/var/task");
pyodide.globals.set("module_names", modules);
console.log(
  pyodide.runPython(`
import importlib, importlib.machinery, json, sys

def no_compiling(self, data, path, *args, **kwargs):
    raise ImportError(f"would compile {path} from source: its .pyc was not usable")

importlib.machinery.SourceFileLoader.source_to_code = no_compiling
sys.dont_write_bytecode = True
sys.path.insert(0, "/var/task")
loaded, errors = {}, {}
for name in module_names:
    try:
        module = importlib.import_module(name)
        loaded[name] = module.__cached__
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
json.dumps({"version": "%d.%d" % sys.version_info[:2], "loaded": loaded, "errors": errors})
`),
);
