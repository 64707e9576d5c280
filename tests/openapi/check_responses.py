#!/usr/bin/python3
"""Checks HTTP responses recorded by the integration tests against docs/openapi.yaml.

Usage: check_responses.py OPENAPI.yaml RESPONSES.jsonl

Each line of RESPONSES.jsonl is one exchange, written by tests/support/http_client.cpp:
  {"method": "POST", "path": "/member/registration", "status": 201, "content_type": "application/json",
   "body": <parsed JSON or null>, "raw_body": "...only when the body is not JSON..."}
An optional "headers" member ({name: value} or [[name, value], ...]) is checked against the response's
required headers when present.

For every record: the method and concrete path are matched to an operation (`{param}` segments match one
non-empty segment; literal segments win, as in backend/core/router.cpp); the status to a response
("404", then "4XX", then "default"); the Content-Type (without parameters) to a media type of that response;
and the body is validated against its schema (JSON Schema 2020-12, `$ref`s resolved within the document).
Requests that match no operation may only answer with a status listed in the document's
`x-unmatched-responses` (404 unknown path, 405 other method), and are validated against that response.

Prints one line per failing record, a warning per operation that no record exercised, and
`N passed, M failed` as the last line. Exits 1 when anything failed or when the file is missing or empty
(a run that checked nothing must not pass), 0 otherwise.

Only the standard library, PyYAML and jsonschema (Debian bookworm: 4.10; newer versions with `referencing`
work too).
"""

from __future__ import annotations

import datetime
import json
import re
import sys
import urllib.parse
import uuid
from dataclasses import dataclass, field

import jsonschema
import yaml
from jsonschema import Draft202012Validator, FormatChecker

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BASE_URI = "https://openmarket.invalid/openapi.yaml"
MAX_ERRORS_PER_RECORD = 3


# ---- formats: same behaviour whatever optional packages jsonschema finds -------------------------------
def make_format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    rfc3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

    @checker.checks("date-time", raises=(ValueError,))
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not rfc3339.match(value):
            return False
        datetime.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
        return True

    @checker.checks("uuid", raises=(ValueError,))
    def _uuid(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return len(value) == 36 and value.count("-") == 4 and str(uuid.UUID(value)) == value.lower()

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urllib.parse.urlsplit(value)
        return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value

    return checker


# ---- the document ---------------------------------------------------------------------------------------
def pointer_escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def resolve_pointer(doc: dict, pointer: str):
    node = doc
    for raw in pointer.split("/")[1:]:
        seg = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(seg)]
        else:
            node = node[seg]
    return node


def deref(doc: dict, obj, pointer: str):
    """Follows local `$ref`s of a non-schema object (response, header). Returns (object, its pointer)."""
    seen = set()
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise ValueError(f"{pointer}: only local references are supported, got {ref!r}")
        if ref in seen:
            raise ValueError(f"{pointer}: reference cycle through {ref}")
        seen.add(ref)
        pointer = ref[1:]
        obj = resolve_pointer(doc, pointer)
    return obj, pointer


@dataclass
class Operation:
    method: str  # upper case
    template: str
    pointer: str  # JSON pointer of the operation object
    obj: dict
    seen: int = 0


@dataclass
class PathEntry:
    template: str
    segments: list  # (is_param, text)
    operations: dict = field(default_factory=dict)  # METHOD -> Operation


class Spec:
    def __init__(self, doc: dict):
        self.doc = doc
        self.paths: list[PathEntry] = []
        self.validators: dict[str, object] = {}
        self.format_checker = make_format_checker()
        self._make = self._validator_factory()
        for template, item in (doc.get("paths") or {}).items():
            item_pointer = "/paths/" + pointer_escape(template)
            item, item_pointer = deref(doc, item, item_pointer)
            entry = PathEntry(template, [(s.startswith("{") and s.endswith("}") and len(s) > 2, s)
                                         for s in template.split("/")[1:]])
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    entry.operations[method.upper()] = Operation(method.upper(), template,
                                                                 f"{item_pointer}/{method}", item[method])
            self.paths.append(entry)
        self.unmatched = {str(k): v for k, v in (doc.get("x-unmatched-responses") or {}).items()}

    def _validator_factory(self):
        """A function pointer -> validator for the schema at that JSON pointer, whose `$ref`s resolve within
        the document. jsonschema >= 4.18 resolves through a `referencing` registry; older versions
        (Debian bookworm's 4.10) through RefResolver."""
        wrapper = lambda ptr: {"$ref": BASE_URI + "#" + urllib.parse.quote(ptr, safe="/~")}  # noqa: E731
        try:
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012

            registry = Registry().with_resource(BASE_URI, Resource(contents=self.doc, specification=DRAFT202012))
            Draft202012Validator(wrapper("/paths"), registry=registry)  # TypeError: jsonschema too old for it
            return lambda ptr: Draft202012Validator(wrapper(ptr), registry=registry,
                                                    format_checker=self.format_checker)
        except (ImportError, TypeError):
            resolver = jsonschema.RefResolver(base_uri=BASE_URI, referrer=self.doc)
            return lambda ptr: Draft202012Validator(wrapper(ptr), resolver=resolver,
                                                    format_checker=self.format_checker)

    def validator(self, pointer: str):
        v = self.validators.get(pointer)
        if v is None:
            v = self.validators[pointer] = self._make(pointer)
        return v

    def check_schemas(self) -> list[str]:
        """Meta-validates every schema of the document (catches typos such as a bad regex or type)."""
        problems = []

        def visit(node, pointer):
            if isinstance(node, dict):
                for key, value in node.items():
                    sub = f"{pointer}/{pointer_escape(str(key))}"
                    if key == "schema" and isinstance(value, dict):
                        check(value, sub)
                    else:
                        visit(value, sub)
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    visit(value, f"{pointer}/{i}")

        def check(schema, pointer):
            try:
                Draft202012Validator.check_schema(schema)
            except jsonschema.exceptions.SchemaError as e:
                problems.append(f"{pointer}: invalid schema: {e.message}")
            check_patterns(schema, pointer)

        def check_patterns(node, pointer):
            # check_schema does not compile regular expressions in every jsonschema version.
            if isinstance(node, dict):
                for key, value in node.items():
                    sub = f"{pointer}/{pointer_escape(str(key))}"
                    if key == "pattern" and isinstance(value, str):
                        try:
                            re.compile(value)
                        except re.error as e:
                            problems.append(f"{sub}: invalid regular expression: {e}")
                    elif key == "patternProperties" and isinstance(value, dict):
                        for name, sch in value.items():
                            try:
                                re.compile(name)
                            except re.error as e:
                                problems.append(f"{sub}: invalid regular expression {name!r}: {e}")
                            check_patterns(sch, f"{sub}/{pointer_escape(name)}")
                    else:
                        check_patterns(value, sub)
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    check_patterns(value, f"{pointer}/{i}")

        visit(self.doc.get("paths") or {}, "/paths")
        for name, schema in ((self.doc.get("components") or {}).get("schemas") or {}).items():
            check(schema, "/components/schemas/" + pointer_escape(name))
        visit(((self.doc.get("components") or {}).get("responses") or {}), "/components/responses")
        visit(((self.doc.get("components") or {}).get("headers") or {}), "/components/headers")
        return problems

    def match_path(self, path: str):
        """The PathEntry for a concrete path, like backend/core/router.cpp: a `{param}` matches one non-empty
        segment, and a literal segment beats a parameter at the first position where they differ."""
        if not path.startswith("/"):
            return None
        segs = path.split("/")[1:]
        best, best_key = None, None
        for entry in self.paths:
            if len(entry.segments) != len(segs):
                continue
            ok = all((seg != "") if is_param else (seg == text) for (is_param, text), seg in zip(entry.segments, segs))
            if not ok:
                continue
            key = tuple(0 if is_param else 1 for is_param, _ in entry.segments)
            if best_key is None or key > best_key:
                best, best_key = entry, key
        return best


# ---- one record ---------------------------------------------------------------------------------------
def media_type(content_type) -> str:
    if not isinstance(content_type, str):
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def is_json_media(mt: str) -> bool:
    return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))


def find_response(responses: dict, status: int):
    """(key, response) for a status: exact code, then the nXX range, then default."""
    by_key = {str(k).upper(): (str(k), v) for k, v in (responses or {}).items()}
    for key in (str(status), f"{status // 100}XX", "DEFAULT"):
        if key in by_key:
            return by_key[key]
    return None, None


def record_headers(rec: dict):
    h = rec.get("headers")
    if isinstance(h, dict):
        return {str(k).lower(): v for k, v in h.items()}
    if isinstance(h, list):
        return {str(p[0]).lower(): p[1] for p in h if isinstance(p, (list, tuple)) and len(p) == 2}
    return None


def format_schema_error(err) -> str:
    where = "/".join(str(p) for p in err.absolute_path)
    msg = err.message
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return f"{'body' if not where else 'body/' + where}: {msg}"


def check_response(spec: Spec, rec: dict, response: dict, resp_pointer: str, method: str) -> list[str]:
    errors = []
    response, resp_pointer = deref(spec.doc, response, resp_pointer)

    # Required headers, when the record carries them.
    headers = record_headers(rec)
    if headers is not None:
        for name, h in (response.get("headers") or {}).items():
            h, _ = deref(spec.doc, h, resp_pointer)
            if isinstance(h, dict) and h.get("required") and name.lower() not in headers:
                errors.append(f"missing required header {name}")

    content = response.get("content") or {}
    ct = rec.get("content_type")
    mt = media_type(ct)
    body = rec.get("body")
    raw = rec.get("raw_body")
    has_body = body is not None or (isinstance(raw, str) and raw != "")

    if not content:
        if has_body and method != "HEAD":
            errors.append(f"the document declares no body for this response, but one was sent ({ct or 'no Content-Type'})")
        return errors

    if not mt:
        errors.append(f"no Content-Type; expected one of {', '.join(content)}")
        return errors
    key = None
    lowered = {k.lower(): k for k in content}
    for candidate in (mt, mt.split("/")[0] + "/*", "*/*"):
        if candidate in lowered:
            key = lowered[candidate]
            break
    if key is None:
        errors.append(f"Content-Type {ct!r} is not documented (expected {', '.join(content)})")
        return errors
    if method == "HEAD":
        return errors  # HEAD answers carry the headers of GET and no body

    media = content[key] or {}
    if "schema" not in media:
        return errors
    schema_pointer = f"{resp_pointer}/content/{pointer_escape(key)}/schema"
    if is_json_media(mt):
        if body is None:
            if isinstance(raw, str) and raw != "":
                errors.append(f"body is not valid JSON although Content-Type is {mt}: {raw[:80]!r}")
            else:
                errors.append("empty body where the document expects a JSON body")
            return errors
        instance = body
    else:
        instance = raw if isinstance(raw, str) else ("" if body is None else json.dumps(body, ensure_ascii=False))

    validator = spec.validator(schema_pointer)
    errs = sorted(validator.iter_errors(instance), key=lambda e: (len(list(e.absolute_path)), e.message))
    for e in errs[:MAX_ERRORS_PER_RECORD]:
        errors.append(format_schema_error(e))
    if len(errs) > MAX_ERRORS_PER_RECORD:
        errors.append(f"... and {len(errs) - MAX_ERRORS_PER_RECORD} more schema errors")
    return errors


def check_record(spec: Spec, rec) -> tuple[str, list[str]]:
    """Returns (label, errors) for one parsed record."""
    if not isinstance(rec, dict):
        return "?", ["record is not a JSON object"]
    method, path, status = rec.get("method"), rec.get("path"), rec.get("status")
    label = f"{method} {path} -> {status}"
    missing = [k for k, ok in (("method", isinstance(method, str) and method),
                               ("path", isinstance(path, str) and path.startswith("/")),
                               ("status", isinstance(status, int) and not isinstance(status, bool)))
               if not ok]
    if missing:
        return label, [f"record lacks a valid {', '.join(missing)}"]
    method = method.upper()
    path = path.split("?", 1)[0]

    entry = spec.match_path(path)
    op = None
    if entry is not None:
        op = entry.operations.get(method)
        if op is None and method == "HEAD":
            op = entry.operations.get("GET")  # the router serves HEAD with the GET route
    if op is None:
        what = "undocumented path" if entry is None else f"method not documented for {entry.template}"
        if str(status) not in spec.unmatched:
            allowed = ", ".join(sorted(spec.unmatched)) or "none"
            return label, [f"{what}: only {allowed} may answer here, got {status}"]
        return label, check_response(spec, rec, spec.unmatched[str(status)],
                                     "/x-unmatched-responses/" + str(status), method)

    if method == op.method:
        op.seen += 1
    key, response = find_response(op.obj.get("responses"), status)
    if response is None:
        documented = ", ".join(str(k) for k in (op.obj.get("responses") or {}))
        return label, [f"status {status} is not documented for {op.method} {op.template} (documented: {documented})"]
    return label, check_response(spec, rec, response, f"{op.pointer}/responses/{pointer_escape(key)}", method)


# ---- main ---------------------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: check_responses.py OPENAPI.yaml RESPONSES.jsonl", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    spec_path, records_path = argv[1], argv[2]

    try:
        with open(spec_path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
            raise ValueError("not an OpenAPI 3.1 document")
        spec = Spec(doc)
    except (OSError, yaml.YAMLError, ValueError, KeyError, TypeError) as e:
        print(f"FAIL: cannot load the OpenAPI document {spec_path}: {e}")
        print("0 passed, 1 failed")
        return 1

    try:
        with open(records_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        print(f"FAIL: {records_path} does not exist: the integration tests recorded no responses, "
              "so nothing was checked (did they run, and do they use tests/support/http_client?)")
        print("0 passed, 1 failed")
        return 1
    except (OSError, UnicodeDecodeError) as e:
        print(f"FAIL: cannot read {records_path}: {e}")
        print("0 passed, 1 failed")
        return 1

    passed = failed = 0
    for problem in spec.check_schemas():
        print(f"FAIL {spec_path}: {problem}")
        failed += 1

    records = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        records += 1
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            print(f"FAIL {records_path}:{lineno}: not JSON ({e.msg}): {line[:120]}")
            failed += 1
            continue
        try:
            label, errors = check_record(spec, rec)
        except Exception as e:  # noqa: BLE001 - a checker or document bug fails the record, never passes it
            label, errors = (f"{rec.get('method')} {rec.get('path')} -> {rec.get('status')}"
                             if isinstance(rec, dict) else "?"), [f"checker error (broken document?): {e!r}"]
        if errors:
            failed += 1
            print(f"FAIL {records_path}:{lineno}: {label}: " + "; ".join(errors))
        else:
            passed += 1

    if records == 0:
        print(f"FAIL: {records_path} is empty: the integration tests recorded no responses, so nothing was checked")
        print(f"0 passed, {failed + 1} failed")
        return 1

    for entry in spec.paths:
        for op in entry.operations.values():
            if op.seen == 0:
                print(f"WARNING: no recorded response for {op.method} {op.template}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
