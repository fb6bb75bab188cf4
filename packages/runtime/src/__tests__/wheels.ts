import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a wheel in the documented layout (PEP 427: the package's modules, then `<name>-<version>.dist-info`
 * with METADATA, WHEEL and a RECORD of sha256 digests) with Python's zipfile, so pip installs it from a
 * local folder with --no-index --find-links. Returns the wheel's path.
 */
const WRITE_WHEEL = `
import base64, hashlib, json, sys, zipfile
folder, name, version, modules = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
info = f"{name}-{version}.dist-info"
files = dict(modules)
files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: sluice-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
record = []
path = f"{folder}/{name}-{version}-py3-none-any.whl"
with zipfile.ZipFile(path, "w") as wheel:
    for member, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{member},sha256={digest},{len(data)}")
        wheel.writestr(member, data)
    record.append(f"{info}/RECORD,,")
    wheel.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
print(path)
`;

export function buildWheel(folder: string, name: string, version: string): string {
  mkdirSync(folder, { recursive: true });
  // a two-module package: the version it reports, and a module importing the other
  const modules = {
    [`${name}/__init__.py`]: `VERSION = ${JSON.stringify(version)}\n`,
    [`${name}/greet.py`]: `from . import VERSION\n\ndef greet():\n    return "${name} " + VERSION\n`,
  };
  return execFileSync('python3', ['-c', WRITE_WHEEL, folder, name, version, JSON.stringify(modules)], {
    encoding: 'utf8',
  }).trim();
}

/** The build folders under a workspace's environment cache (`<key>.<id>`). */
export function buildFolders(entries: readonly string[]): string[] {
  return entries.filter((entry) => /^[0-9a-f]{32}\.[0-9a-f]{12}$/.test(entry));
}

export const wheelhouse = (root: string): string => join(root, 'wheels');
