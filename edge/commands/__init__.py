"""Commands from the backend: the signed envelope, its checks, the reply (contract section 3)."""

from edge.commands.args import CommandArgs, CommandSpec
from edge.commands.canonical import canonical_json
from edge.commands.envelope import Envelope
from edge.commands.reply import CommandRejected, CommandReply, FailureCode, RejectCode
from edge.commands.table import COMMAND_TYPES, COMMANDS
from edge.commands.verify import CommandVerifier, VerifiedCommand

__all__ = [
    "COMMANDS",
    "COMMAND_TYPES",
    "CommandArgs",
    "CommandRejected",
    "CommandReply",
    "CommandSpec",
    "CommandVerifier",
    "Envelope",
    "FailureCode",
    "RejectCode",
    "VerifiedCommand",
    "canonical_json",
]
