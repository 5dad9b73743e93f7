"""Policy files: validation with file/key/line errors, defaults, jurisdiction, hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from workprint.errors import PolicyError
from workprint.policy.model import (
    MANDATORY_ENTITIES,
    default_policy,
    find_key_line,
    load_policy,
    parse_policy,
)

GOOD = """\
# company policy
[scope]
allow_apps  = ["XTerm", "code", "libreoffice-*"]
deny_apps   = ["KeePassXC", "*1password*"]
allow_sites = ["*.corp.example.com", "github.com"]
deny_sites  = ["*bank*"]

[redaction]
extra_entities = ["MAC_ADDRESS"]

[[redaction.patterns]]
name = "EMPLOYEE_ID"
regex = '\\bE\\d{6}\\b'

[pause]
hotkey = "Ctrl+Alt+Shift+P"
idle_minutes = 10

[retention]
max_mb = 500

[review]
auto_approve_after_hours = 48

[actions]
multi_click_s = 0.4
"""


def test_good_policy_loads_with_values_and_defaults(tmp_path):
    f = tmp_path / "policy.toml"
    f.write_text(GOOD)
    p = load_policy(f)
    assert p.scope.allow_apps == ("XTerm", "code", "libreoffice-*")
    assert p.scope.allow_sites == ("*.corp.example.com", "github.com")
    assert p.redaction.patterns[0].name == "EMPLOYEE_ID"
    assert p.pause.hotkey == "ctrl+alt+shift+p"
    assert p.pause.idle_minutes == 10.0
    assert p.retention.days == 90 and p.retention.max_mb == 500
    assert p.review.auto_approve_after_hours == 48
    assert p.actions.multi_click_s == 0.4 and p.actions.drag_px == 6
    assert p.jurisdiction.profile == "us" and not p.jurisdiction.episodes_only
    assert p.source == str(f)


def _err(text: str) -> str:
    with pytest.raises(PolicyError) as ei:
        parse_policy(text, source="team.toml")
    return str(ei.value)


def test_unknown_key_is_error_with_file_key_and_line():
    msg = _err('[scope]\nallow_apps = ["code"]\n\ndeny_app = ["x"]\n')
    assert "team.toml" in msg and "line 4" in msg and "scope.deny_app" in msg
    assert "unknown key" in msg


def test_unknown_section_is_error_with_line():
    msg = _err('[scope]\nallow_apps = []\n[scopes]\nallow_apps = ["x"]\n')
    assert "line 3" in msg and "scopes" in msg


def test_wrong_type_names_key_and_line():
    msg = _err('[pause]\nidle_minutes = 5\n\n[scope]\n# apps\nallow_apps = "XTerm"\n')
    assert "line 6" in msg and "scope.allow_apps" in msg and "list of strings" in msg


def test_same_key_in_other_section_does_not_confuse_line_lookup():
    text = '[screenshots]\nenabled = true\n[pause]\non_lock = true\n[retention]\ndays = 0\n'
    msg = _err(text)
    assert "line 6" in msg and "retention.days" in msg


def test_bad_regex_in_second_pattern_points_at_its_line():
    text = ('[[redaction.patterns]]\nname = "A_ID"\nregex = "a\\\\d+"\n\n'
            '[[redaction.patterns]]\nname = "B_ID"\nregex = "(unclosed"\n')
    msg = _err(text)
    assert "redaction.patterns[1].regex" in msg and "line 7" in msg


def test_toml_syntax_error_keeps_line_and_column():
    msg = _err('[scope]\nallow_apps = ["a",\n deny = 3\n')
    assert "team.toml" in msg and "line" in msg and "col" in msg


def test_mandatory_entities_cannot_be_listed_or_disabled():
    assert "always detected" in _err('[redaction]\nextra_entities = ["EMAIL_ADDRESS"]\n')
    assert "unknown entity" in _err('[redaction]\nextra_entities = ["NOPE"]\n')
    assert "built-in" in _err('[[redaction.patterns]]\nname = "PASSWORD"\nregex = "x"\n')
    # there is no key to switch a detector off
    assert "unknown key" in _err('[redaction]\nentities = {EMAIL_ADDRESS = false}\n')
    assert "EMAIL_ADDRESS" in MANDATORY_ENTITIES


def test_empty_matching_pattern_rejected():
    assert "empty string" in _err('[[redaction.patterns]]\nname = "X_ID"\nregex = "a*"\n')


def test_sites_must_be_hosts():
    msg = _err('[scope]\nallow_sites = ["https://github.com/org"]\n')
    assert "scope.allow_sites" in msg and "host" in msg


@pytest.mark.parametrize("hotkey", ["p", "shift+p", "ctrl+", "ctrl+alt", "hyper+p"])
def test_bad_hotkeys(hotkey):
    assert "pause.hotkey" in _err(f'[pause]\nhotkey = "{hotkey}"\n')


def test_bool_is_not_a_number():
    assert "retention.days" in _err("[retention]\ndays = true\n")


def test_eu_profile_defaults_and_forced_rules():
    p = parse_policy('[jurisdiction]\nprofile = "eu"\n')
    assert p.jurisdiction.episodes_only and p.jurisdiction.indicator
    assert p.retention.days == 30
    assert default_policy("us").retention.days == 90
    assert "episodes" in _err('[jurisdiction]\nprofile = "eu"\nepisodes_only = false\n')
    assert "indicator" in _err('[jurisdiction]\nprofile = "eu"\nindicator = false\n')
    assert "jurisdiction.profile" in _err('[jurisdiction]\nprofile = "uk"\n')
    with pytest.raises(PolicyError):
        default_policy("mars")


def test_default_policy_records_nothing():
    p = default_policy()
    assert p.scope.allow_apps == () and p.scope.allow_sites == ()


def test_hash_is_stable_and_tracks_effective_policy():
    a = parse_policy(GOOD, source="a.toml")
    b = parse_policy("# reformatted\n" + GOOD.replace("  =", " ="), source="b.toml")
    assert a.hash == b.hash and len(a.hash) == 64
    c = parse_policy(GOOD.replace("max_mb = 500", "max_mb = 501"))
    assert c.hash != a.hash
    # a file spelling out the defaults is the same effective policy as an empty one
    assert parse_policy("[retention]\ndays = 90\n").hash == default_policy().hash


def test_to_dict_shows_builtins():
    d = default_policy().to_dict()
    assert "keepassxc" in d["builtin"]["deny_apps"]
    assert "mail.google.com" in d["builtin"]["deny_sites"]
    assert d["scope"]["allow_apps"] == []


def test_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.toml")


def test_find_key_line_dotted_top_level():
    lines = ['scope.allow_apps = ["x"]', "[pause]", "hotkey = 'ctrl+p'"]
    assert find_key_line(lines, "scope.allow_apps") == 1
    assert find_key_line(lines, "pause.hotkey") == 3


def test_remote_terminals_default_to_secret_and_take_only_known_modes():
    assert parse_policy("").passwords.remote_terminals == "secret"
    assert parse_policy('[passwords]\nremote_terminals = "prompt"\n').passwords.remote_terminals == "prompt"
    with pytest.raises(PolicyError) as e:
        parse_policy('[scope]\nallow_apps = []\n[passwords]\nremote_terminals = "never"\n', source="p.toml")
    assert "passwords.remote_terminals" in str(e.value) and "line 4" in str(e.value)


def test_sections_added_later_keep_deployed_policies_hashes():
    # A collector refuses chunks whose policy hash it never published: an upgrade that adds a
    # section must not change the hash of a policy that does not use it. These two hashes were
    # computed by the code before [capture] existed (487f107); a change here changes every
    # deployed policy's hash - bump POLICY_FORMAT and tell the fleet to publish again.
    example = Path(__file__).resolve().parents[1] / "examples" / "policy.toml"
    assert load_policy(example).hash == "5d48467344d88e16896d8cba71cd350604d396c10e6c050d56c0fe4dc585d7ea"
    assert default_policy().hash == "957d22325c4e308118521c14f3cc44149d89f0a348958873620b2abc03439f16"
    assert parse_policy("[capture]\na11y_tree = false\n").hash == default_policy().hash
    on = parse_policy("[capture]\na11y_tree = true\n")
    assert on.hash != default_policy().hash
    assert parse_policy("[capture]\na11y_tree = true\na11y_max_nodes = 100\n").hash != on.hash
    assert "capture" in default_policy().to_dict()      # shown by `policy show` all the same
