"""The worker protocol: every message survives the wire, and whatever else arrives is refused by name."""

from __future__ import annotations

import json

import pytest

from hubcheck.worker.protocol import (
    JUDGE_MESSAGES,
    MAX_MESSAGE_BYTES,
    REPO_MESSAGES,
    Ended,
    EntryDescription,
    Imported,
    LineSplitter,
    Outputs,
    ProtocolError,
    ReferenceInfo,
    RunJob,
    Verdict,
    decode,
    encode,
)


def test_messages_round_trip_with_nested_types():
    job = RunJob("/repo", "tiny", {"seed": 3, "inputs": None}, ("cpu", "cuda:0"), ("load",), "/cwd", "/data",
                 reference=ReferenceInfo("/r.safetensors", "r.safetensors", True, "none", False, "`record`"))
    assert decode(encode(job).rstrip(b"\n"), (RunJob,)) == job
    imported = Imported(("a", "b"), (EntryDescription("a", "function", "()", None, False, 3),), None)
    assert decode(encode(imported), REPO_MESSAGES) == imported
    outputs = Outputs("cpu", "forward", ("output.0 is on meta",), "inferred", ({"shape": [2, 4]},))
    assert decode(encode(outputs), REPO_MESSAGES) == outputs


@pytest.mark.parametrize(("line", "says"), [
    (b"[1, 2, 3]", "a JSON list instead of a message: '[1, 2, 3]'"),
    (b'"passed"', "a JSON string instead of a message"),
    (b"not json", "a line that is not JSON: 'not json'"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (b'{"check": "load", "status": "passed"}', "a message without an event"),
    (b'{"event": "result", "check": "load", "status": "passed"}', "an unexpected 'result' message"),
    (b'{"event": "verdict", "check": "load", "device": "cpu", "status": "passed", "message": "", "duration_s": 0}',
     "an unexpected 'verdict' message"),
    (b'{"event": "ended"}', "a malformed 'ended' message (no 'check')"),
    (b'{"event": "ended", "check": "load", "device": "cpu", "duration_s": "soon"}', "duration_s is not a float"),
    (b'{"event": "ended", "check": 5, "device": "cpu", "duration_s": 0}', "check is not a str"),
    (b'{"event": "ended", "check": "load", "device": "cpu", "duration_s": 0, "status": "passed"}',
     "unknown field 'status'"),
    (b'{"event": "outputs", "device": "cpu", "role": "forward", "misplaced": "all"}', "misplaced is not a list"),
])
def test_what_the_process_that_ran_repo_code_may_not_send(line, says):
    with pytest.raises(ProtocolError) as raised:
        decode(line, REPO_MESSAGES)
    assert says in str(raised.value)


def test_a_verdict_needs_a_known_status():
    line = json.dumps({"event": "verdict", "check": "forward", "device": "cpu", "status": "splendid",
                       "message": "", "duration_s": 0.0}).encode()
    with pytest.raises(ProtocolError, match="unknown status 'splendid'"):
        decode(line, JUDGE_MESSAGES)
    assert decode(encode(Verdict("forward", "cpu", "passed", "ok", 0.5)), JUDGE_MESSAGES).status == "passed"


def test_lines_split_across_chunks_and_oversize_lines_are_refused_once():
    lines = LineSplitter()
    message = encode(Ended("load", "cpu", 1.0))
    assert lines.feed(message[:5]) == []
    assert lines.feed(message[5:] + message[:3]) == [message.rstrip(b"\n")]
    assert lines.rest() == message[:3]
    lines = LineSplitter()
    found = lines.feed(b"x" * (MAX_MESSAGE_BYTES + 1))
    assert len(found) == 1 and isinstance(found[0], ProtocolError)
    assert "more than 16 MiB" in str(found[0])
    assert lines.feed(b"x" * 100) == []
    assert lines.feed(b"\n" + message) == [message.rstrip(b"\n")]
