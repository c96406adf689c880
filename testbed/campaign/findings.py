"""The pass criteria of the campaign and what was found against them."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

CRITERIA = {
    "lost": "0 records lost",
    "twice": "0 records counted twice (by record_id)",
    "seq": "seq gapless",
    "integrity": "PRAGMA integrity_check ok after every cut",
    "physical": "no physical action without its durable record",
    "replay": "no replayed or expired command obeyed",
    "duration": "no negative duration; durations agree with real time",
    "charges": "every charge correct",
    "serving": "the box serves again by itself after every fault",
    "disk": "a full or unwritable disk: new sessions refused busy, records kept, recovery",
    "clock": "records' clock_synced honest; time moves forward",
    "soak": "no growth in RSS (< 1 MiB), fds, threads or tasks",
}


@dataclass
class Findings:
    """Counts of what the campaign did and checked, and every failure with its detail."""

    done: Counter[str] = field(default_factory=Counter)
    checked: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.done[what] += n

    def check(self, criterion: str, ok: bool, detail: str) -> bool:
        with self._lock:
            self.checked[criterion] += 1
            if not ok:
                self.failures.append((criterion, detail))
        return ok

    def failed(self, criterion: str) -> list[str]:
        return [detail for name, detail in self.failures if name == criterion]

    def merge(self, other: Findings) -> None:
        with self._lock:
            self.done.update(other.done)
            self.checked.update(other.checked)
            self.failures.extend(other.failures)

    def report(self) -> str:
        lines = ["done: " + ", ".join(f"{k} {v}" for k, v in sorted(self.done.items()))]
        for name, text in CRITERIA.items():
            if not self.checked[name]:
                continue
            bad = self.failed(name)
            verdict = "MET" if not bad else f"FAILED ({len(bad)})"
            lines.append(f"  {verdict:<12} {text}  [{self.checked[name]} checks]")
            lines.extend(f"      - {detail}" for detail in bad[:8])
        return "\n".join(lines)

    @property
    def passed(self) -> bool:
        return not self.failures
