"""``chatgpt4o check`` (alias ``doctor``): does this site work right now, step by step?"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from . import exceptions as exc
from ._cli_base import add_common, open_client
from ._cli_output import OK, error_object, exit_code_for, report
from .client import Client

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``check`` and its alias ``doctor``."""
    for name in ("check", "doctor"):
        check = subparsers.add_parser(
            name, help="check that the site works now" if name == "check" else "alias of check",
            description="Check step by step whether the site works: homepage, chat tokens, plugin "
            "era, streaming, and a round trip. Exit code 0 only when the round trip succeeds.",
        )
        check.add_argument("--prompt", default="ping", help="the message of the round trip (default: ping)")
        add_common(check, sub=True)
        check.set_defaults(run=run)


class _Steps:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.steps: list[dict[str, Any]] = []

    def step(self, name: str, ok: bool, detail: str) -> None:
        self.steps.append({"step": name, "ok": ok, "detail": detail})
        if not self.as_json:
            print(f"  {'ok  ' if ok else 'FAIL'}  {name:<20} {detail}", flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run(args: argparse.Namespace) -> int:
    """Run the checks; returns the exit code."""
    steps = _Steps(args.json)
    result: dict[str, Any] = {"ok": False, "base_url": None, "site": None, "round_trip": None, "error": None}
    code = OK
    with open_client(args) as client:
        result["base_url"] = client.base_url
        if not args.json:
            print(f"checking {client.base_url}", flush=True)
        try:
            code = _check_steps(client, args, steps, result)
        except exc.Chatgpt4oError as error:
            code = exit_code_for(error)
            result["error"] = error_object(error)
            if not args.json:
                print(f"result: the site does not work ({type(error).__name__}, exit code {code})", flush=True)
                report(error, args.verbose)
    result["steps"] = steps.steps
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return code


def _check_steps(client: Client, args: argparse.Namespace, steps: _Steps, result: dict[str, Any]) -> int:
    try:
        info = client.inspect()
    except exc.TokensNotFoundError:
        steps.step("homepage", True, f"{client.base_url} answered")
        steps.step("chat tokens", False, "no chat box (data-post-id / data-nonce) on the page")
        raise
    except exc.Chatgpt4oError as error:
        steps.step("homepage", False, f"{client.base_url}: {type(error).__name__}")
        raise
    result["site"] = info.as_dict()
    steps.step("homepage", True, f"{info.page_url} in {_ms(info.fetch_seconds)}")
    if info.protocol == "aipkit":
        bots = ", ".join(f"{bot.id} {bot.name or '(unnamed)'} ({bot.mode}, {bot.provider or 'provider not shown'})"
                         for bot in info.bots)
        steps.step("chat tokens", True, f"AIPKit bots: {bots}; nonce {'present' if info.has_nonce else 'missing'}")
        steps.step("bot used", True, f"bot {info.bot_id}" + ("" if info.bot_id in {b.id for b in info.bots}
                                                                 else " (not on this page)"))
        version = info.plugin_version or "not shown on the page"
        steps.step("plugin", True, f"AI Puffer {version} (2.x AIPKit protocol), era {info.era}")
        steps.step("history", True, "kept by the site (session and conversation ids)")
    else:
        steps.step("chat tokens", True, f"post id {info.post_id}, bot id {info.bot_id}, identity {info.identity}, "
                    f"nonce {'present' if info.has_nonce else 'missing'}")
        version = info.plugin_version or "not shown on the page"
        steps.step("plugin", True, f"AI Power {version} (1.x legacy chat protocol), protocol era {info.era}")
        steps.step("streaming", True, "on (answers arrive as server-sent events)" if info.stream
                    else "off (answers arrive as one JSON reply)")
        steps.step("memory limit", True, f"{info.memory_limit} history items" if info.memory_limit else "not set")
    started = time.monotonic()
    try:
        answer = client.ask(args.prompt, args.model)
    except exc.Chatgpt4oError as error:
        steps.step("round trip", False, f"{args.prompt!r}: {type(error).__name__}")
        raise
    seconds = time.monotonic() - started
    result["round_trip"] = {"prompt": args.prompt, "answer": answer, "seconds": round(seconds, 3)}
    shown = " ".join(answer.split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    steps.step("round trip", True, f"{args.prompt!r} -> {shown!r} in {_ms(seconds)}")
    result["ok"] = True
    if not args.json:
        print("result: the site works", flush=True)
    return OK
