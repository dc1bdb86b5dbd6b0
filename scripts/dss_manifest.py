#!/usr/bin/env python3
"""Build tests/data/dss/manifest.tsv: real files from esig/dss test resources with the verdict DSS's
own unit test asserts for each (same columns and rules as ../shared/conformance/manifest.tsv).

usage: scripts/dss_manifest.py GIT_DIR [--exclude ../shared/conformance/manifest.tsv] > manifest.tsv

A file is listed only when exactly one test class loads it as its signed document and that class
states the verdict unambiguously: an `assertFalse(...isSignatureIntact())` gives NOT_INTACT, one
main indication asserted on the simple report gives that indication (and its sub-indication when
asserted), and a class that overrides none of the default intactness checks gives INTACT.
Standard library only.
"""
import argparse
import re
import subprocess
import sys

MODULES = ("dss-cades", "dss-pades", "dss-xades", "dss-asic-cades", "dss-asic-xades")
SUFFIX_FORMAT = {".pdf": "PAdES", ".xml": "XAdES"}
OVERRIDES = ("checkBLevelValid", "checkDigestMatchers", "checkSignatureIntact", "getDetachedContents",
             "checkNumberOfSignatures", "verifySimpleReport", "getOriginalDocuments")
MAX_BYTES = 400_000
#: rows where the test asserts a fact from which DSS's default policy (constraint.xml) decides the
#: verdict: source path -> (expected, sub-indication, why)
CORRECTIONS = {
    "dss-pades/src/test/resources/validation/pades-spoofing-replaced-reason.pdf": (
        "TOTAL_FAILED", "FORMAT_FAILURE",
        "isPdfSignatureDictionaryConsistent false; constraint.xml PdfSignatureDictionary FAIL"),
}


def git(gd: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", gd, *args], capture_output=True, text=True,
                          errors="replace", check=True).stdout


def fmt(module: str, path: str) -> str:
    low = path.lower()
    if module == "dss-pades":
        return "PAdES"
    if module == "dss-xades":
        return "XAdES"
    if module == "dss-cades":
        return "CAdES"
    kind = "XAdES" if module == "dss-asic-xades" else "CAdES"
    form = "S" if low.endswith((".asics", ".scs")) else "E"
    return f"ASiC-{form}-{kind}"


def _signature(variable: str) -> bool:
    """Whether an asserted wrapper variable is a signature (not a timestamp or an evidence record)."""
    low = variable.lower()
    return not any(word in low for word in ("ts", "timestamp", "evidence", "record"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("git_dir")
    ap.add_argument("--exclude", action="append", default=[])
    args = ap.parse_args()
    gd = args.git_dir
    excluded = set()
    for path in args.exclude:
        with open(path, encoding="utf-8") as f:
            excluded.update(cols[6] for cols in (line.split("\t") for line in f) if len(cols) > 6)
    sizes = {}
    for line in git(gd, "ls-tree", "-r", "-l", "HEAD").splitlines():
        meta, path = line.split("\t", 1)
        size = meta.split()[3]
        if path.split("/")[0] in MODULES and "/src/test/resources/validation/" in path and size.isdigit():
            sizes[path] = int(size)
    java = git(gd, "grep", "-n", "-F", "validation/", "HEAD", "--", "*.java").splitlines()
    refs: dict[str, set[str]] = {}
    for line in java:
        _, jpath, _, text = line.split(":", 3)
        for m in re.finditer(r'"(?:src/test/resources)?/?(validation/[^"]+)"', text):
            refs.setdefault(jpath.split("/")[0] + "/" + m.group(1), set()).add(jpath)
    print("file\tdetached_content\tformat\texpected\texpected_subindication\tsignatures\tsource\tevidence")
    for path in sorted(sizes):
        module = path.split("/")[0]
        rel = path.split("/src/test/resources/", 1)[1]
        if path in excluded or sizes[path] > MAX_BYTES or rel.lower().endswith((".crt", ".cer", ".txt",
                                                                                 ".der", ".pem", ".crl")):
            continue
        tests = refs.get(module + "/" + rel, set())
        if len(tests) != 1:
            continue
        jpath = next(iter(tests))
        src = git(gd, "show", "HEAD:" + jpath)
        if src.count('"/validation/') + src.count('resources/validation/') != 1:
            continue  # the class loads more than one resource
        name = jpath.rsplit("/", 1)[1][:-5]
        inds = set(re.findall(r"assertEquals\(\s*Indication\.(\w+),\s*simpleReport\.getIndication", src))
        subs = set(re.findall(r"assertEquals\(\s*SubIndication\.(\w+),\s*simpleReport\.getSubIndic", src))
        if re.search(r"class \w+ extends \w*EvidenceRecord", src):
            continue  # evidence records, not signatures
        if "assertThrows" in src:
            continue  # DSS refuses the file with an exception: no verdict to compare
        not_intact = [v for v in re.findall(r"assertFalse\(\s*(\w+)\.isSignatureIntact\(\)", src)
                      if _signature(v)]
        intact_asserted = [v for v in re.findall(r"assertTrue\(\s*(\w+)\.isSignatureIntact\(\)", src)
                           if _signature(v)]
        if not_intact and not intact_asserted:
            expected, sub, why = "NOT_INTACT", "-", "signatureIntact false"
        elif len(inds) == 1 and next(iter(inds)) in ("TOTAL_FAILED", "INDETERMINATE"):
            expected = next(iter(inds))
            sub = next(iter(subs)) if len(subs) == 1 else "-"
            why = "simple report indication"
        elif not inds and not any(o in src for o in OVERRIDES) and "getSignedDocument" in src:
            expected, sub, why = "INTACT", "-", "default checkBLevelValid/checkDigestMatchers"
        else:
            continue
        if path in CORRECTIONS:
            expected, sub, why = CORRECTIONS[path]
        out = re.sub(r"[^A-Za-z0-9._+-]", "_", f"{module}__{rel.rsplit('/', 1)[1]}")
        evidence = f"{name} ({name}.java): {why}"
        print("\t".join([out, "-", fmt(module, rel), expected, sub, "-", path, evidence]))


if __name__ == "__main__":
    sys.exit(main())
