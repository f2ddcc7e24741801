"""Load one checkpoint with ``torch.load(weights_only=True)`` and print what happened as one JSON line.

Run as a script by path (``python -I checkpoint_load.py FILE``), never imported by hubcheck:
a checkpoint is a pickle, and even the restricted unpickler has had CVEs, so it is read in
a process of its own. When the restricted load refuses the file, the globals it would need
are listed (``torch.serialization.get_unsafe_globals_in_checkpoint``, which reads the pickle
without running it), so the user can decide whether to allow them.
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> dict[str, object]:
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - every refusal is the answer to report
        needed: list[str] = []
        finder = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
        if finder is not None:
            try:
                needed = sorted(finder(path))
            except Exception:  # noqa: BLE001 - not a zip checkpoint: the load error says why
                needed = []
        return {"ok": False, "error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                "globals": needed}
    tensors = loaded if isinstance(loaded, dict) else {}
    return {"ok": True, "kind": type(loaded).__name__, "entries": len(tensors)}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(sys.argv[1])) + "\n")
