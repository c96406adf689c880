"""The reliability campaign (docs/reliability.md): boxes of every kind, run as real processes
with their store on the power-cut filesystem and a wall clock that can be wrong, driven through
rentals, ejects and parking sessions while power cuts, SIGKILLs, broker outages, full disks and
clock faults hit them; a cloud-side consumer that knows only the contract judges the result.

`python -m testbed.campaign --all` (scripts/campaign) runs it at full size; the suite runs each
scenario once at a small size (tests/test_campaign_short.py)."""
