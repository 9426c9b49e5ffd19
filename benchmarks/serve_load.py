"""`maaza serve` under load: the shipped extraction model behind the server at concurrency 1, 4 and 16.

    python benchmarks/serve_load.py                      # every stage, resumable; then the report
    python benchmarks/serve_load.py --stages report      # the table again from benchmarks/results/serve_load.json

One GGUF (the shipped MLM-135M-JSON adapter merged and exported as F16: `maaza export --adapter
benchmarks/artifacts/mlm_135m_json_warm_start_3 --formats gguf-f16 --out runs/serve/json`) answers the same
`--requests` EdgeJSON v3 test rows (stratified by complexity) in four ways:

- `in-process`: `Extractor.extract` in this process, one after another (the server's overhead is measured
  against it);
- `serve /v1/extract`: `maaza serve --backend llamacpp` in a subprocess, at each concurrency;
- `serve chat json_schema`: the same server's `/v1/chat/completions`, the schema-chat instruction as the user
  message and the schema as `response_format` json_schema;
- `llama.cpp server`: `python -m llama_cpp.server` on the same GGUF and thread count, the same chat request in
  its own form (`response_format: {type: json_object, schema}`; it refuses OpenAI's json_schema form).

Per run: requests/s, latency p50/p95/p99, completion tokens/s (summed over requests / wall time), errors
(non-200 answers), invalid answers (HTTP 200 whose content is not JSON or does not validate against the schema), and the server's RSS after warm-up, at the end and at peak
(VmHWM). Client: asyncio + httpx on loopback, `concurrency` requests in flight. Each finished run is saved at
once (atomic write), so an interrupted benchmark resumes where it stopped; `--fresh` measures again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, maaza_cli, num, provenance_header

RESULTS = RESULTS_DIR / "serve_load.json"
TABLE = RESULTS_DIR / "serve_load.md"
DEFAULT_GGUF = Path("runs/serve/json/mlm-135m-json-warm-start-3-f16.gguf")
SHIPPED_ADAPTER = "benchmarks/artifacts/mlm_135m_json_warm_start_3"
SYSTEMS = ("serve-extract", "serve-chat", "llamacpp-chat")
LABELS = {"in-process": "in-process Extractor", "serve-extract": "maaza serve /v1/extract",
          "serve-chat": "maaza serve chat json_schema", "llamacpp-chat": "llama.cpp server (json_object+schema)"}


# --------------------------------------------------------------------------------------------- data


def load_requests(count: int) -> list[dict[str, Any]]:
    """`count` extraction requests {id, text, schema, instruction, source}: stratified EdgeJSON v3 test rows."""
    from maaza.schemas import load_schema_folder
    from maaza.tasks import get_task
    from maaza.tasks.edgejson.rows import prompt_text

    task = get_task("edgejson")
    data = task.default_data("test")
    if data is None or not Path(data.rows).is_file():
        raise SystemExit("EdgeJSON v3 test rows not found: set MAAZA_DATA_ROOT to the folder holding edgejson_v3/")
    rows = task.load_rows(data.rows, data.resources, limit=count)
    schemas = load_schema_folder(data.resources["schemas"])
    return [{"id": row.id, "text": row.prompt, "schema": schemas[row.schema_id],
             "instruction": prompt_text(row.prompt, schemas[row.schema_id], "schema"),
             "source": f"EdgeJSON v3 test, stratified by complexity ({data.rows})"} for row in rows]


# ------------------------------------------------------------------------------------------ servers


def _rss(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def _free_port() -> int:
    from maaza.data.local_server import free_port

    return free_port()


class Server:
    """A server subprocess on loopback (maaza serve or llama_cpp.server), ready once /v1/models answers."""

    def __init__(self, kind: str, gguf: Path, threads: int, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MAAZA_LLAMACPP_THREADS": str(threads)}
        if kind == "maaza":
            command = [maaza_cli(), "serve", "--model", f"json={gguf}", "--backend", "llamacpp", "--port",
                       str(self.port), "--queue-size", "64", "--log-level", "warning"]
        else:
            command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "json",
                       "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "4096", "--n_threads",
                       str(threads), "--n_threads_batch", str(threads)]
        self.log = log.open("wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        import httpx

        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"{kind} server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{kind} server not ready after 300 s (log {log})")
            time.sleep(0.25)

    def rss(self) -> dict[str, float]:
        return _rss(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# ------------------------------------------------------------------------------------------- client


def _body(system: str, item: dict[str, Any], max_tokens: int) -> tuple[str, dict[str, Any]]:
    if system == "serve-extract":
        return "/v1/extract", {"text": item["text"], "schema": item["schema"], "max_tokens": max_tokens}
    messages = [{"role": "user", "content": item["instruction"]}]
    if system == "serve-chat":
        fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": item["schema"], "strict": True}}
    else:
        fmt = {"type": "json_object", "schema": item["schema"]}
    return "/v1/chat/completions", {"model": "json", "messages": messages, "max_tokens": max_tokens,
                                    "temperature": 0, "response_format": fmt}


def _answer(system: str, payload: dict[str, Any]) -> tuple[Any, int]:
    if system == "serve-extract":
        return payload["output"], payload["usage"]["completion_tokens"]
    return json.loads(payload["choices"][0]["message"]["content"]), payload["usage"]["completion_tokens"]


async def _drive(url: str, system: str, items: list[dict[str, Any]], concurrency: int,
                 max_tokens: int) -> tuple[list[dict[str, Any]], float]:
    import httpx

    from maaza.schemas import schema_valid

    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def one(item: dict[str, Any]) -> dict[str, Any]:
            path, body = _body(system, item, max_tokens)
            async with gate:
                started = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                except httpx.TransportError as exc:  # the server dropped the connection (or died)
                    return {"id": item["id"], "seconds": time.perf_counter() - started, "status": 0,
                            "error": f"{type(exc).__name__}: {exc}"}
                seconds = time.perf_counter() - started
            if response.status_code != 200:
                return {"id": item["id"], "seconds": seconds, "status": response.status_code,
                        "error": response.text[:200]}
            payload = response.json()
            try:
                value, tokens = _answer(system, payload)
                valid, why = schema_valid(value, item["schema"])
            except (ValueError, KeyError, TypeError) as exc:  # HTTP 200 with an answer that is not JSON
                tokens, valid, why = payload.get("usage", {}).get("completion_tokens", 0), False, f"not JSON: {exc}"
            return {"id": item["id"], "seconds": seconds, "status": 200, "tokens": tokens, "valid": valid,
                    **({} if valid else {"invalid_reason": str(why)[:160]})}

        started = time.perf_counter()
        outcomes = await asyncio.gather(*(one(item) for item in items))
        return list(outcomes), time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    at = (len(ordered) - 1) * q
    low, high = int(at), min(int(at) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def summarise(outcomes: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    latencies = [o["seconds"] for o in outcomes]
    ok = [o for o in outcomes if "error" not in o]
    tokens = sum(o["tokens"] for o in ok)
    return {
        "requests": len(outcomes), "wall_seconds": round(wall, 3),
        "requests_per_s": round(len(outcomes) / wall, 4), "tokens_per_s": round(tokens / wall, 2),
        "completion_tokens": tokens,
        "latency_p50": round(_percentile(latencies, 0.50), 3), "latency_p95": round(_percentile(latencies, 0.95), 3),
        "latency_p99": round(_percentile(latencies, 0.99), 3), "latency_mean": round(statistics.mean(latencies), 3),
        "errors": len(outcomes) - len(ok), "invalid": sum(1 for o in ok if not o["valid"]),
        "error_samples": [o["error"] for o in outcomes if "error" in o][:3],
        "invalid_samples": [o["invalid_reason"] for o in ok if not o["valid"]][:3],
    }


# ------------------------------------------------------------------------------------------- stages


def _save(results: dict[str, Any]) -> None:
    from maaza.io import atomic_write_json

    atomic_write_json(RESULTS, results)


def run_in_process(gguf: Path, items: list[dict[str, Any]], max_tokens: int, threads: int) -> dict[str, Any]:
    os.environ["MAAZA_LLAMACPP_THREADS"] = str(threads)
    from maaza.extract import Extractor
    from maaza.schemas import schema_valid

    extractor = Extractor.load(str(gguf), backend="llamacpp", max_new_tokens=max_tokens)
    for item in items[:2]:  # warm-up, as the servers get
        extractor.extract(item["text"], item["schema"])
    outcomes = []
    started = time.perf_counter()
    for item in items:
        counted = [0]

        def hook(_row: int, _token: int, counted: list[int] = counted) -> bool:
            counted[0] += 1
            return False

        begun = time.perf_counter()
        result = extractor.extract_batch([(item["text"], item["schema"])], 1, on_token=hook)[0]
        seconds = time.perf_counter() - begun
        if isinstance(result, Exception):
            outcomes.append({"id": item["id"], "seconds": seconds, "status": 0, "error": str(result)})
        else:
            outcomes.append({"id": item["id"], "seconds": seconds, "status": 200, "tokens": counted[0],
                             "valid": schema_valid(result, item["schema"])[0]})
    wall = time.perf_counter() - started
    extractor.runtime.close()
    return {"concurrency": 1, **summarise(outcomes, wall), "rss_mb": _rss(os.getpid())}


def run_server(system: str, gguf: Path, items: list[dict[str, Any]], concurrency: list[int], max_tokens: int,
               threads: int, results: dict[str, Any]) -> None:
    kind = "llamacpp" if system == "llamacpp-chat" else "maaza"
    done = {run["concurrency"] for run in results["runs"].get(system, [])}
    todo = [c for c in concurrency if c not in done]
    if not todo:
        return
    log = Path("runs/serve") / f"{system}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = Server(kind, gguf, threads, log)
    try:
        asyncio.run(_drive(server.url, system, items[:2], 1, max_tokens))  # warm-up
        warm = server.rss()
        for c in todo:
            if server.process.poll() is not None:  # it died in the previous run: a fresh one for this run
                results["runs"].setdefault(f"{system}-exits", []).append(server.process.returncode)
                server.stop()
                server = Server(kind, gguf, threads, log.with_name(f"{system}-c{c}.log"))
                asyncio.run(_drive(server.url, system, items[:2], 1, max_tokens))
                warm = server.rss()
            print(f"{system}: concurrency {c}, {len(items)} requests", file=sys.stderr)
            outcomes, wall = asyncio.run(_drive(server.url, system, items, c, max_tokens))
            alive = server.process.poll() is None
            run = {"concurrency": c, **summarise(outcomes, wall), "rss_mb_after_warmup": warm,
                   "rss_mb_end": server.rss() if alive else warm, "server_exit": None if alive else
                   server.process.returncode}
            results["runs"].setdefault(system, []).append(run)
            _save(results)
            print(f"  {run['requests_per_s']} req/s, p99 {run['latency_p99']} s, errors {run['errors']}, "
                  f"invalid {run['invalid']}", file=sys.stderr)
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------- report


def report(results: dict[str, Any]) -> str:
    runs = results["runs"]
    lines = [provenance_header("maaza serve under load (extraction model, llama.cpp backend)", results["env"]),
             f"- model: `{results['gguf']}` ({results['gguf_mb']:.1f} MB; {results['model_note']})",
             f"- requests: {results['requests']} ({results['source']}), max_tokens {results['max_tokens']}, "
             f"{results['threads']} llama.cpp threads in every system; client: asyncio + httpx on loopback",
             "", "| system | concurrency | req/s | p50 s | p95 s | p99 s | tokens/s | errors | invalid | "
             "RSS MB warm -> end (peak) |", "|---|---|---|---|---|---|---|---|---|---|"]
    base = runs.get("in-process")
    if base:
        lines.append(f"| {LABELS['in-process']} | 1 (sequential) | {num(base['requests_per_s'])} | "
                     f"{num(base['latency_p50'], 2)} | {num(base['latency_p95'], 2)} | {num(base['latency_p99'], 2)} | "
                     f"{num(base['tokens_per_s'], 1)} | {base['errors']} | {base['invalid']} | - |")
    for system in SYSTEMS:
        for run in sorted(runs.get(system, []), key=lambda r: r["concurrency"]):
            warm, end = run["rss_mb_after_warmup"], run["rss_mb_end"]
            lines.append(
                f"| {LABELS[system]} | {run['concurrency']} | {num(run['requests_per_s'])} | "
                f"{num(run['latency_p50'], 2)} | {num(run['latency_p95'], 2)} | {num(run['latency_p99'], 2)} | "
                f"{num(run['tokens_per_s'], 1)} | {run['errors']} | {run['invalid']} | "
                f"{warm['VmRSS']:.0f} -> {end['VmRSS']:.0f} ({end['VmHWM']:.0f}) |")
    lines.append("")
    for system in SYSTEMS:
        for run in runs.get(system, []):
            if run.get("server_exit") is not None:
                lines.append(f"- {LABELS[system]} at concurrency {run['concurrency']}: the server process died "
                             f"(exit {run['server_exit']}) during the run; its errors are the requests it dropped.")
            for sample in run.get("invalid_samples", [])[:1]:
                lines.append(f"- {LABELS[system]} at concurrency {run['concurrency']}, an invalid answer: {sample}")
            for sample in run.get("error_samples", [])[:1]:
                lines.append(f"- {LABELS[system]} at concurrency {run['concurrency']}, an error: {sample}")
    lines.append("")
    checks = checks_of(results)
    for name, (value, ok) in checks.items():
        lines.append(f"- {name}: {value} {'(met)' if ok else '(missed)'}")
    lines.append("")
    return "\n".join(lines)


def checks_of(results: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """The issue's targets, from the measured runs."""
    runs = results["runs"]
    out: dict[str, tuple[str, bool]] = {}
    ours = runs.get("serve-extract", []) + runs.get("serve-chat", [])
    if ours:
        errors = sum(r["errors"] for r in ours)
        invalid = sum(r["invalid"] for r in ours)
        out["errors and schema-invalid answers, maaza serve"] = (f"{errors} errors, {invalid} invalid", not errors
                                                                 and not invalid)
    by_c = {r["concurrency"]: r for r in runs.get("serve-extract", [])}
    base = runs.get("in-process")
    if base and 1 in by_c:
        overhead = 1 - by_c[1]["requests_per_s"] / base["requests_per_s"]
        out["server overhead at concurrency 1 (vs in-process, /v1/extract)"] = (f"{100 * overhead:.1f}%",
                                                                                 overhead <= 0.05)
    if 1 in by_c and 16 in by_c:
        ratio = by_c[16]["requests_per_s"] / by_c[1]["requests_per_s"]
        out["throughput at concurrency 16 / concurrency 1"] = (f"{ratio:.2f}x", ratio >= 1.0)
    for system in ("serve-extract", "serve-chat"):
        for run in runs.get(system, []):
            growth = run["rss_mb_end"]["VmRSS"] / run["rss_mb_after_warmup"]["VmRSS"] - 1
            out[f"RSS growth, {LABELS[system]} at concurrency {run['concurrency']}"] = (f"{100 * growth:+.1f}%",
                                                                                      growth <= 0.10)
    return out


# --------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, default=DEFAULT_GGUF)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stages", nargs="+", default=["in-process", *SYSTEMS, "report"],
                        choices=["in-process", *SYSTEMS, "report"])
    parser.add_argument("--fresh", action="store_true", help="forget saved runs")
    args = parser.parse_args()

    from maaza.envinfo import environment

    if args.stages != ["report"]:
        if not args.gguf.is_file():
            raise SystemExit(f"{args.gguf} not found; export it first: maaza export --adapter {SHIPPED_ADAPTER} "
                             f"--formats gguf-f16 --out {args.gguf.parent}")
        settings = {"gguf": str(args.gguf), "requests": args.requests, "max_tokens": args.max_tokens,
                    "threads": args.threads}
        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() and not args.fresh else {}
        if any(results.get(key) != value for key, value in settings.items()):
            results = {**settings, "runs": {}}
        items = load_requests(args.requests)
        results.update(source=items[0]["source"], gguf_mb=args.gguf.stat().st_size / 2**20, env=environment(),
                       model_note=f"the shipped adapter merged into SmolLM2-135M, F16 ({SHIPPED_ADAPTER})")
        if "in-process" in args.stages and "in-process" not in results["runs"]:
            results["runs"]["in-process"] = run_in_process(args.gguf, items, args.max_tokens, args.threads)
            _save(results)
        for system in SYSTEMS:
            if system in args.stages:
                run_server(system, args.gguf, items, args.concurrency, args.max_tokens, args.threads, results)
        _save(results)
    results = json.loads(RESULTS.read_text())
    from maaza.io import atomic_write_text

    atomic_write_text(TABLE, report(results))
    print(TABLE.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
