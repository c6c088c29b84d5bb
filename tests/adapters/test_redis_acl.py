"""The Driftline ACL rule: built from one command list that covers what the code runs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

import streams.adapters
from streams.adapters.redis.acl import (
    COMMANDS,
    UNGRANTED,
    acl_rules,
    aclfile_line,
    setuser_command,
)

ADAPTERS = Path(streams.adapters.__file__).parent
# redis-py's method names where they differ from the command's.
_METHOD_COMMANDS = {"delete": "del", "script_load": "script|load", "execute_command": "evalsha"}


def adapter_sources() -> str:
    return "\n".join(path.read_text() for path in sorted(ADAPTERS.rglob("*.py")))


def test_every_command_our_lua_scripts_call_is_granted() -> None:
    called = {name.lower() for name in re.findall(r"redis\.call\('(\w+)'", adapter_sources())}
    assert len(called) > 5, "few redis.call found: the pattern no longer matches the scripts"
    assert called <= set(COMMANDS), called - set(COMMANDS)


def test_every_command_the_adapters_send_directly_is_granted() -> None:
    methods = re.findall(r"\b(?:pipe|client|self\.client)\.(\w+)\(", adapter_sources())
    sent = {_METHOD_COMMANDS.get(m, m) for m in methods}
    sent -= {"pipeline", "execute", "register_script", "aclose", "list_topics"}
    assert {"hgetall", "hmget"} <= sent, "the pattern no longer finds the adapters' calls"
    assert sent <= {*COMMANDS, *UNGRANTED}, sent - {*COMMANDS, *UNGRANTED}
    assert not set(UNGRANTED) & set(COMMANDS)


def test_the_rule_grants_the_prefix_and_the_commands_only() -> None:
    rules = acl_rules("acme")
    assert rules[:4] == ["resetkeys", "~acme:*", "resetchannels", "-@all"]
    assert rules[4:] == [f"+{command}" for command in COMMANDS]
    assert not any(r.startswith(("+@", "~*", "allkeys", "allcommands")) for r in rules)


def test_glob_characters_in_the_prefix_match_only_themselves() -> None:
    assert acl_rules("a*b?[c]")[1] == r"~a\*b\?\[c\]:*"


def test_the_password_appears_only_hashed() -> None:
    digest = hashlib.sha256(b"s3cret").hexdigest()
    line = aclfile_line("driftline", "s3cret", "acme")
    assert line.startswith(f"user driftline on #{digest} resetkeys ~acme:* ")
    assert "s3cret" not in line
    command = setuser_command("driftline", "s3cret", "acme")
    assert command[:5] == ["ACL", "SETUSER", "driftline", "reset", "on"]
    assert "s3cret" not in " ".join(command)


@pytest.mark.parametrize("user", ["", "a b", "x>y", "name\n"])
def test_a_user_name_that_would_change_the_rule_is_refused(user: str) -> None:
    with pytest.raises(ValueError, match="user name"):
        aclfile_line(user, "pw", "acme")


@pytest.mark.parametrize("prefix", ["", "a b", "a\tb"])
def test_a_prefix_that_would_split_the_rule_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        acl_rules(prefix)
