#!/usr/bin/env python3
"""Check that each attack test of tests/test_attacks.py fails when its defence is removed.

For every entry of :data:`MUTATIONS` (an attack test and the source change that switches its
defence off) the tree is copied to a scratch directory, the change is made there, and the
test is run against the copy (``PYTHONPATH`` puts it first); the test must fail. The work
tree is never touched. Prints one line per mutation and exits non-zero if a test survived
its mutation or a mutation no longer applies (the source moved: update the entry).

A defence that a library now makes itself (the entry's ``covered_by``: "msgspec 0.23.0") is
expected to survive while the installed library is at least that version: it is reported
as ``covered`` and does not fail the run; the test still runs, and the project keeps its
own check for older versions that ``pyproject.toml`` allows. If such a mutation is killed,
the library no longer covers it: the project's defence is what the test proves again, so
the run does not fail either, but it says so (drop ``covered_by`` from the entry).

    .venv/bin/python scripts/attack_mutations.py            # all
    .venv/bin/python scripts/attack_mutations.py replay     # those whose test matches
    .venv/bin/python scripts/attack_mutations.py --record docs/security.md   # make mutations

``--record`` (a full run only) writes the figures (date, machine, versions, the number of
attack tests and of mutations, killed, covered and survived) into the file's section between
``<!-- mutations:begin -->`` and ``<!-- mutations:end -->``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from doc_sections import replace_section
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(".venv", ".git", "var", "__pycache__", ".*_cache", "*.egg-info")


@dataclass(frozen=True)
class Mutation:
    """Replace ``old`` by ``new`` in ``path`` (and each ``(path, old, new)`` of ``also``, for a
    defence made of several checks): ``test`` must then fail — unless ``covered_by`` names
    the library and the version ("msgspec 0.23.0") from which the library refuses the attack
    itself, making this defence redundant there."""

    test: str
    path: str
    old: str
    new: str
    also: tuple[tuple[str, str, str], ...] = ()
    covered_by: str = ""


#: AES-GCM's decryption without its tag: the counter-mode keystream alone (RFC 5116 §5.1,
#: NIST SP 800-38D §7.2: the first block's counter is nonce || 2), so a changed ciphertext
#: bit flips the same plaintext bit and the header (associated data) is not authenticated.
_TAGLESS_GCM = """
            class TaglessGCM:
                def __init__(self, key: bytes) -> None:
                    self.key, self.encrypt = key, AESGCM(key).encrypt

                def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
                    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

                    ctr = modes.CTR(nonce + (2).to_bytes(4, "big"))
                    decryptor = Cipher(algorithms.AES(self.key), ctr).decryptor()
                    return decryptor.update(data[:-16]) + decryptor.finalize()

            aead = self._aeads[usage] = TaglessGCM(derived)  # type: ignore[assignment]"""
_GCM = "            aead = self._aeads[usage] = AESGCM(derived)"
#: One key for every usage, and no usage check of the header.
_ONE_KEY_FOR_ALL_USAGES = (
    'info=b"orthrus/usage/%d" % usage,',
    'info=b"orthrus/usage",',
    (
        (
            "orthrus/seal.py",
            'if header.get("usage") != int(usage) or header.get("ctx") != context:',
            'if header.get("ctx") != context:',
        ),
    ),
)


MUTATIONS: list[Mutation] = [
    *(
        Mutation(test, "orthrus/keys.py", _GCM, _TAGLESS_GCM.lstrip("\n"))
        for test in (
            "test_bit_flip_extending_a_ticket_endtime_is_modified",
            "test_bit_flip_moving_an_authenticator_time_is_modified",
            "test_bit_flips_in_every_encrypted_part_are_refused",
            "test_clear_jwe_header_field_changed_is_modified",
            "test_cut_and_paste_of_jwe_segments_between_tickets_is_modified",
        )
    ),
    *(
        Mutation(test, "orthrus/keys.py", *_ONE_KEY_FOR_ALL_USAGES)
        for test in (
            "test_key_usage_confusion_every_usage_refused_at_every_other_place",
            "test_ap_authenticator_offered_to_the_kdc_and_tgs_one_to_a_service_are_modified",
        )
    ),
    Mutation(
        "test_secrets_never_reach_the_logs_the_audit_log_or_errors",
        "kdc/app.py",
        "    if settings.lab:\n        sinks.append(TraceSink(",
        "    if True:\n        sinks.append(TraceSink(",
        (("kdc/exchanges.py", "lab = self.settings.lab", "lab = True"),),
    ),
    Mutation(
        "test_settings_repr_hides_database_and_redis_passwords",
        "orthrus_io/settings.py",
        "            value = redact_url(value)",
        "            pass",
    ),
    Mutation(
        "test_ticket_for_service_a_offered_to_service_b_is_not_us",
        "service_lib/keytab_source.py",
        "return self.keys.get(principal)",
        "return self.keys.get(principal) or next(iter(self.keys.values()))",
    ),
    Mutation(
        "test_invalid_utf8_in_a_string_is_generic_error_not_500",
        "orthrus/codec.py",
        "    except UnicodeDecodeError:",
        "    except ZeroDivisionError:",
        covered_by="msgspec 0.23.0",  # raises DecodeError, not UnicodeDecodeError, for bad UTF-8
    ),
    Mutation(
        "test_as_req_body_changed_in_transit_is_noticed_by_the_client",
        "orthrus/kdcrep.py",
        "if expect.checksum is not None and (",
        "if False and (",
    ),
    Mutation(
        "test_ticket_swapped_in_a_kdc_reply_is_noticed_by_the_client",
        "orthrus/kdcrep.py",
        "if expect.checksum is not None and (",
        "if False and (",
    ),
    Mutation(
        "test_slowloris_slow_headers_and_bodies_cannot_hold_the_kdc",
        "kdc/http_server.py",
        "self._set_timer(start + self._served.timeout)",
        "self._set_timer(start + 3600)",
    ),
    Mutation(
        "test_request_head_dribbled_slowly_is_cut_at_request_timeout",
        "kdc/http_server.py",
        "self._set_timer(start + self._served.timeout)",
        "self._set_timer(start + 3600)",
    ),
    Mutation(
        "test_oversized_request_heads_are_431_or_414_and_closed",
        "kdc/http_server.py",
        "MAX_FIELDS = 100\n",
        "MAX_FIELDS = 100_000\n",
    ),
    Mutation(
        "test_oversized_request_heads_are_431_or_414_and_closed",
        "kdc/http_server.py",
        "MAX_TARGET = 4094\n",
        "MAX_TARGET = 1 << 20\n",
    ),
    Mutation(
        "test_oversized_request_heads_are_431_or_414_and_closed",
        "kdc/http_server.py",
        "MAX_HEAD = 16 * 1024\n",
        "MAX_HEAD = 1 << 20\n",
    ),
    Mutation(
        "test_a_head_that_never_ends_is_431_once_past_16_kib",
        "kdc/http_server.py",
        "if self._in_head and self._heads == head_before:",
        "if False:",
    ),
    Mutation(
        "test_a_client_that_leaves_its_answers_unread_is_read_no_further",
        "kdc/http_server.py",
        "hold = self._write_blocked or len(self._pending) >= MAX_PIPELINED",
        "hold = False",
    ),
    Mutation(
        "test_slow_administration_does_not_hold_the_exchanges",
        "kdc/http_server.py",
        "            future = self._loop.run_in_executor(\n"
        "                served.executor, call_wsgi, served.front.app, environ\n"
        "            )\n",
        "            future = self._loop.create_future()\n"
        "            future.set_result(call_wsgi(served.front.app, environ))\n",
    ),
    Mutation(
        "test_replay_to_the_same_service_is_repeat",
        "orthrus/replay.py",
        "if stored is not None and stored >= now:",
        "if False:",
    ),
    Mutation(
        "test_replay_to_another_worker_is_repeat",
        "orthrus_io/replay.py",
        '"WHERE replay.expires_at < ?"',
        '"WHERE 1 OR replay.expires_at < ?"',
    ),
    Mutation(
        "test_tgs_request_replayed_to_another_kdc_worker_is_repeat",
        "orthrus_io/replay.py",
        '"WHERE replay.expires_at < ?"',
        '"WHERE 1 OR replay.expires_at < ?"',
    ),
    Mutation(
        "test_replay_to_another_host_through_redis_is_repeat",
        "orthrus_io/redis_replay.py",
        "nx=True, px=ttl_ms)",
        "nx=True, pxat=int(now * 1000) + ttl_ms)",
    ),
    Mutation(
        "test_authenticator_exactly_300_s_off_is_accepted",
        "orthrus/timecheck.py",
        "if abs(difference) > max_skew:",
        "if abs(difference) >= max_skew:",
    ),
    Mutation(
        "test_authenticator_301_s_off_is_skew",
        "orthrus/timecheck.py",
        "if abs(difference) > max_skew:",
        "if abs(difference) > max_skew + 1:",
    ),
    Mutation(
        "test_tgs_authenticator_skew_boundary",
        "orthrus/timecheck.py",
        "if abs(difference) > max_skew:",
        "if abs(difference) > max_skew + 1:",
    ),
    Mutation(
        "test_preauth_timestamp_skew_boundary",
        "orthrus/timecheck.py",
        "if abs(difference) > max_skew:",
        "if abs(difference) >= max_skew:",
    ),
    Mutation(
        "test_ticket_kvno_changed_is_badkeyver",
        "orthrus/realm.py",
        "key = keys.get(kvno)",
        "key = keys.get(kvno) or next(iter(keys.values()))",
    ),
    Mutation(
        "test_tgs_request_body_changed_in_transit_is_modified",
        "orthrus/ap.py",
        "    _check_binding(authenticator.checksum, rules)\n",
        "\n",
    ),
    Mutation(
        "test_ap_req_moved_to_another_method_or_path_is_modified",
        "orthrus/ap.py",
        "    _check_binding(authenticator.checksum, rules)\n",
        "\n",
    ),
    Mutation(
        "test_refused_request_never_enters_the_replay_cache",
        "orthrus/ap.py",
        "    client_time = check_opened(opened, now, rules)\n    expires_at",
        "    rules.replay_cache.check_and_store(opened.replay_entry, now + 600, now)\n"
        "    client_time = check_opened(opened, now, rules)\n    expires_at",
    ),
    Mutation(
        "test_ticket_relabelled_for_a_service_sharing_its_key_is_modified",
        "orthrus/seal.py",
        'if header.get("usage") != int(usage) or header.get("ctx") != context:',
        'if header.get("usage") != int(usage):',
    ),
    Mutation(
        "test_downgrade_to_a_weaker_jwe_algorithm_is_modified",
        "orthrus/seal.py",
        'if header.get("alg") != "dir" or header.get("enc") != ENCTYPE:',
        "if False:",
    ),
    Mutation(
        "test_expired_service_ticket_is_tkt_expired",
        "orthrus/timecheck.py",
        "if now > endtime + max_skew:",
        "if False:",
    ),
    Mutation(
        "test_ticket_not_yet_valid_is_tkt_nyv",
        "orthrus/timecheck.py",
        "if starttime - max_skew > now:",
        "if False:",
    ),
    Mutation(
        "test_renewal_past_renew_till_is_tkt_expired",
        "orthrus/tgs_exchange.py",
        "if now > tgt.renew_till:",
        "if False:",
    ),
    Mutation(
        "test_renewal_never_extends_past_renew_till",
        "orthrus/tgs_exchange.py",
        "endtime=min(start + (tgt.endtime - tgt.starttime), tgt.renew_till),",
        "endtime=start + (tgt.endtime - tgt.starttime),",
    ),
    Mutation(
        "test_tgt_offered_to_a_service_is_not_us",
        "orthrus/ap.py",
        '    if keys is None:\n        raise APError(\n            "KRB_AP_ERR_NOT_US"',
        '    if False:\n        raise APError(\n            "KRB_AP_ERR_NOT_US"',
    ),
    Mutation(
        "test_service_ticket_offered_as_a_tgt_is_not_us",
        "orthrus/tgs_exchange.py",
        "if not server.is_tgs:",
        "if False:",
    ),
    Mutation(
        "test_disabled_client_cannot_use_its_tgt",
        "orthrus/tgs_exchange.py",
        "if client is None or not client.allow_tickets:",
        "if client is None:",
    ),
    Mutation(
        "test_client_of_another_realm_is_wrong_realm",
        "orthrus/as_exchange.py",
        "if client_name.realm != realm or server_name.realm != realm:",
        "if False:",
    ),
    Mutation(
        "test_tgt_of_another_realm_is_wrong_realm",
        "orthrus/tgs_exchange.py",
        "if server != local_tgs and issuer is None:",
        "if False:",
    ),
    Mutation(
        "test_authenticator_naming_a_client_of_another_realm_is_badmatch",
        "orthrus/ap.py",
        "if authenticator.client != ticket.client:",
        "if False:",
    ),
    Mutation(
        "test_service_of_another_realm_is_not_issued",
        "orthrus/tgs_exchange.py",
        "entry = ctx.lookup(body.server) if body.server.realm == ctx.policy.realm else None",
        "entry = ctx.lookup(body.server)",
    ),
    Mutation(
        "test_as_rep_roasting_gets_nothing_without_preauth",
        "orthrus/as_exchange.py",
        "    if client.requires_preauth or otp_data is not None:\n",
        "    if otp_data is not None:\n",
    ),
    Mutation(
        "test_forged_kdc_reply_with_another_nonce_is_modified",
        "orthrus/kdcrep.py",
        "if part.nonce != expect.nonce:",
        "if False:",
    ),
    Mutation(
        "test_forged_kdc_reply_for_another_server_is_modified",
        "orthrus/kdcrep.py",
        "if part.server != expect.server or ticket.server != expect.server:",
        "if False:",
    ),
    Mutation(
        "test_mutual_authentication_reply_replayed_from_another_exchange_is_mut_fail",
        "orthrus/ap.py",
        "    if replied != sent:\n",
        "    if False:\n",
    ),
    Mutation(
        "test_password_change_with_a_ticket_from_the_tgs_is_policy",
        "orthrus/kpasswd.py",
        'if "initial" not in verified.ticket.flags:',
        "if False:",
    ),
    Mutation(
        "test_password_change_replayed_is_repeat",
        "orthrus/replay.py",
        "if not cache.check_and_store(entry, expires_at, now):",
        "if False and not cache.check_and_store(entry, expires_at, now):",
    ),
    Mutation(
        "test_krb_priv_reflected_to_its_sender_is_baddirection",
        "orthrus/priv.py",
        "if part.direction != _OTHER[self.role]:",
        "if False:",
    ),
    Mutation(
        "test_krb_priv_replayed_within_its_channel_is_repeat",
        "orthrus/priv.py",
        "        if ahead == 0:\n            return",
        "        if True:\n            return",
    ),
    Mutation(
        "test_user_enumeration_unknown_and_known_clients_get_the_same_answers",
        "kdc/enumeration.py",
        "return self.present(principal, entry)",
        "return entry and self.present(principal, entry)",
    ),
    Mutation(
        "test_user_enumeration_by_timing_sees_no_difference",
        "kdc/enumeration.py",
        "return self.present(principal, entry)",
        "return entry and self.present(principal, entry)",
    ),
    Mutation(
        "test_user_enumeration_through_the_lockout_is_hidden",
        "kdc/enumeration.py",
        "return self.present(principal, entry)",
        "return entry and self.present(principal, entry)",
    ),
    Mutation(
        "test_lockout_cannot_be_bypassed_across_kdc_processes",
        "kdc/backends.py",
        'RedisLockout(client, policy, f"{prefix}:lockout")',
        "MemoryLockout(policy)",
    ),
    Mutation(
        "test_request_flood_from_one_address_is_429",
        "kdc/ratelimit.py",
        'if not self._items or (address or "") in self._exempt:',
        "if True:",
    ),
    Mutation(
        "test_request_flood_spread_over_kdc_processes_is_429",
        "kdc/ratelimit.py",
        "self._shared = FixedWindowRateLimiter(storage) if storage else None",
        "self._shared = None",
    ),
    Mutation(
        "test_kerberos_tcp_length_over_the_bound_closes_the_connection_at_once",
        "kdc/kerberos_wire.py",
        "    if length & _HIGH_BIT or length > MAX_MESSAGE_SIZE:\n        return None",
        "    if False:\n        return None",
    ),
    Mutation(
        "test_kerberos_tcp_slow_and_idle_clients_are_cut_at_the_deadline",
        "kdc/kerberos_wire.py",
        "        async with asyncio.timeout(self._timeout):\n            length = message_length(",
        "        async with contextlib.AsyncExitStack():\n            length = message_length(",
    ),
    Mutation(
        "test_kerberos_tcp_connections_beyond_the_bound_are_closed",
        "kdc/kerberos_wire.py",
        "        if self._open >= self._max:",
        "        if False:",
    ),
    Mutation(
        "test_kerberos_request_flood_from_one_address_is_cut_by_the_rate_limit",
        "kdc/exchanges.py",
        "        if self._over_limit(_KERBEROS_KINDS.get(request[:1]), arrival, {}) is not None:\n"
        "            return None\n",
        "",
    ),
    Mutation(
        "test_oversized_request_is_413_field_toolong",
        "kdc/http_api.py",
        "if int(length) > self._max:",
        "if False:",
    ),
    Mutation(
        "test_deeply_nested_json_is_generic_error_not_500",
        "orthrus/seal.py",
        "except (ValueError, RecursionError, MalformedMessage) as exc:",
        "except (ValueError, MalformedMessage) as exc:",
    ),
    Mutation(
        "test_too_many_items_is_generic_error",
        "orthrus/messages.py",
        "padata: Annotated[list[PAData], msgspec.Meta(max_length=4)] = []",
        "padata: list[PAData] = []",
    ),
    Mutation(
        "test_huge_headers_are_refused_and_the_kdc_still_answers",
        "kdc/http_server.py",
        "MAX_HEAD = 16 * 1024\n",
        "MAX_HEAD = 1 << 20\n",
    ),
    Mutation(
        "test_huge_headers_are_refused_and_the_kdc_still_answers",
        "kdc/http_server.py",
        "MAX_HEAD = 16 * 1024\n",
        "MAX_HEAD = 1 << 20\n",
        also=(
            ("kdc/http_server.py", "MAX_FIELDS = 100\n", "MAX_FIELDS = 100_000\n"),
            ("kdc/http_server.py", "MAX_TARGET = 4094\n", "MAX_TARGET = 1 << 20\n"),
        ),
    ),
    Mutation(
        "test_oversized_ticket_token_at_a_service_is_field_toolong",
        "orthrus/httpauth.py",
        "if len(token) > MAX_TOKEN_LENGTH:",
        "if False:",
    ),
    Mutation(
        "test_unicode_confusables_in_principal_names_are_refused",
        "orthrus/principal.py",
        '_COMPONENT = re.compile(r"[A-Za-z0-9._:-]{1,128}\\Z")',
        '_COMPONENT = re.compile(r"[^/@]{1,128}\\Z")',
    ),
    Mutation(
        "test_case_tricks_in_principal_names_do_not_reach_the_principal",
        "orthrus/principal.py",
        '_REALM = re.compile(r"[A-Z0-9](?:[A-Z0-9.-]{0,125}[A-Z0-9])?\\Z")',
        '_REALM = re.compile(r"[A-Z0-9](?:[A-Z0-9.-]{0,125}[A-Z0-9])?\\Z", re.I)',
    ),
    Mutation(
        "test_ccache_that_is_a_symlink_is_refused",
        "orthrus_io/files.py",
        "fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)",
        "fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)",
    ),
    Mutation(
        "test_group_or_world_accessible_credential_files_are_refused",
        "orthrus_io/files.py",
        "if info.st_mode & 0o077:",
        "if info.st_mode & 0o007:",
    ),
    Mutation(
        "test_ccache_lock_file_planted_by_another_user_is_refused",
        "orthrus_io/files.py",
        'is not a regular file; remove it")\n        _check_ours(info, path, what, 0o600)',
        'is not a regular file; remove it")',
    ),
    Mutation(
        "test_ccache_written_through_a_planted_symlink_leaves_its_target_alone",
        "orthrus_io/files.py",
        "        os.replace(tmp, path)\n",
        "        Path(path).write_bytes(Path(tmp).read_bytes())\n        os.unlink(tmp)\n",
    ),
    Mutation(
        "test_keytab_owned_by_another_user_is_refused",
        "orthrus_io/files.py",
        "if info.st_uid != os.geteuid():",
        "if False:",
    ),
    Mutation(
        "test_invalid_utf8_in_a_note_is_400_not_500",
        "service_demo/views.py",
        "except (msgspec.DecodeError, UnicodeDecodeError):",
        "except msgspec.DecodeError:",
        covered_by="msgspec 0.23.0",  # raises DecodeError, not UnicodeDecodeError, for bad UTF-8
    ),
    # The Dialogue's lab switches: each gate open outside a lab lets its attack through, and
    # each switch without its effect no longer shows the attack.
    Mutation(
        "test_captured_ticket_with_an_authenticator_of_another_key_is_modified",
        "service_lib/verifier.py",
        "if self.settings.lab_no_authenticator:",
        "if True:",
    ),
    Mutation(
        "test_captured_ticket_with_a_clear_authenticator_is_refused",
        "service_lib/verifier.py",
        "if self.settings.lab_no_session_key:",
        "if True:",
    ),
    Mutation(
        "test_authenticator_301_s_off_is_skew",
        "service_lib/verifier.py",
        "NO_TIME_BOUND if self.settings.lab_no_timestamp else",
        "NO_TIME_BOUND if True else",
    ),
    Mutation(
        "test_lab_no_authenticator_lets_a_captured_ticket_through",
        "service_lib/verifier.py",
        "return ticket_alone(ap_req, part, session_key, now)",
        "return check_authenticator(ap_req, part, now, rules, session_key)",
    ),
    Mutation(
        "test_lab_no_session_key_lets_a_clear_authenticator_through",
        "service_lib/lab.py",
        'if text.count(".") == 4:',
        "if True:",
    ),
    Mutation(
        "test_lab_no_timestamp_lets_an_old_authenticator_through",
        "service_lib/verifier.py",
        "NO_TIME_BOUND if self.settings.lab_no_timestamp else",
        "",
    ),
    Mutation(
        "test_silver_ticket_with_a_stolen_service_key_is_modified",
        "service_lib/verifier.py",
        "claims = self._check_authz(snapshot, part, ticket.server, now)",
        "claims = AuthzClaims(())",
    ),
    Mutation(
        "test_downgrade_of_the_signed_authorization_data_is_modified",
        "orthrus/authz.py",
        '"require": ["iss", "sub", "aud", "exp", "nbf", "iat"],',
        '"require": ["iss", "sub", "aud", "exp", "nbf", "iat"], "verify_signature": False,',
    ),
    Mutation(
        "test_authenticator_reused_with_another_ticket_is_modified",
        "orthrus/keys.py",
        ").derive(self._material)",
        ").derive(bytes(32))",
    ),
    Mutation(
        "test_silver_ticket_moving_its_auth_or_start_time_is_modified",
        "orthrus/authz.py",
        'or claims.get("iat") != ticket.authtime',
        "or False",
    ),
    Mutation(
        "test_silver_ticket_moving_its_auth_or_start_time_is_modified",
        "orthrus/authz.py",
        'or claims.get("nbf") != ticket.starttime',
        "or False",
    ),
    Mutation(
        "test_enctype_ciphertext_with_any_bit_flipped_is_bad_integrity",
        "orthrus/enctypes/rfc3961.py",
        "    if not hmac.compare_digest(expected, received):",
        "    if False:",
    ),
    Mutation(
        "test_enctype_ciphertext_under_another_key_usage_is_bad_integrity",
        "orthrus/enctypes/rfc3961.py",
        'return usage.to_bytes(4, "big") + bytes((kind,))',
        "return bytes(4) + bytes((kind,))",
    ),
    Mutation(
        "test_enctype_ciphertext_truncated_is_bad_integrity",
        "orthrus/enctypes/rfc3961.py",
        "if len(ciphertext) < self.confounder_size + self.mac_size:",
        "if False:",
    ),
    Mutation(
        "test_enctype_downgrade_to_des_rc4_or_unknown_is_etype_nosupp",
        "orthrus/enctypes/registry.py",
        "raise UnsupportedEnctype(which)",
        "return AES256_CTS_HMAC_SHA1_96",
    ),
    Mutation(
        "test_unkeyed_or_unknown_checksum_type_is_sumtype_nosupp",
        "orthrus/enctypes/registry.py",
        "raise UnsupportedChecksumType(number)",
        "return CHECKSUM_TYPES[16]",
    ),
    Mutation(
        "test_hostile_s2kparams_iteration_count_is_refused_before_any_work",
        "orthrus/enctypes/rfc3962.py",
        "    if count >= MAX_ITERATIONS:",
        "    if False:",
    ),
    Mutation(
        "test_enctype_keys_never_show_their_bytes_in_repr",
        "orthrus/enctypes/rfc3961.py",
        "    material: bytes = field(repr=False)",
        "    material: bytes = field(repr=True)",
        (
            (
                "orthrus/enctypes/rfc3961.py",
                "    ke: bytes = field(repr=False)",
                "    ke: bytes = field(repr=True)",
            ),
        ),
    ),
    *(
        Mutation(
            test,
            "service_lib/verifier.py",
            "claims = self._check_authz(snapshot, part, ticket.server, now)",
            "claims = AuthzClaims(unverified_groups(part))",
        )
        for test in (
            "test_session_minted_with_a_stolen_service_key_is_modified",
            "test_session_minted_with_a_stolen_service_key_is_refused_by_service_demo",
        )
    ),
    Mutation(
        "test_session_token_without_a_proof_is_modified",
        "orthrus/session_proof.py",
        "    if not proof:\n        raise _bad(",
        "    if not proof:\n        return\n        raise _bad(",
    ),
    Mutation(
        "test_session_proof_replayed_is_repeat",
        "orthrus/session_proof.py",
        "    check_replay(\n        rules.replay_cache, entry,",
        "    (lambda *_: None)(\n        rules.replay_cache, entry,",
    ),
    Mutation(
        "test_session_proof_from_before_a_replay_cache_restart_is_repeat",
        "orthrus/session_proof.py",
        'now, made_at, "service"',
        'now, now, "service"',  # the proof's time taken as now: never before a loss
    ),
    Mutation(
        "test_session_proof_moved_to_another_method_or_path_is_modified",
        "orthrus/session_proof.py",
        "if opened.htm != bound.method.upper() or opened.htu != bound.target:",
        "if False:",
    ),
    Mutation(
        "test_session_proof_under_the_wrong_key_is_modified",
        "orthrus/keys.py",
        *_ONE_KEY_FOR_ALL_USAGES,
    ),
    Mutation(
        "test_session_proof_for_another_session_token_is_modified",
        "orthrus/session_proof.py",
        "if opened.ath != _token_hash(bound.token):",
        "if False:",
    ),
    Mutation(
        "test_session_proof_outside_the_clock_skew_is_skew",
        "orthrus/session_proof.py",
        '    check_skew(made_at, now, rules.max_skew, "service")',
        "    pass",
    ),
    Mutation(
        "test_session_from_service_a_presented_at_service_b_is_not_us",
        "service_lib/keytab_source.py",
        "return self.keys.get(principal)",
        "return self.keys.get(principal) or next(iter(self.keys.values()))",
    ),
    Mutation(
        "test_session_cookie_over_plain_http_is_neither_set_nor_taken",
        "service_lib/flask_ext.py",
        "if not (state.browser_sessions and request.is_secure):",
        "if not state.browser_sessions:",
        (
            (
                "service_lib/flask_ext.py",
                "if state.browser_sessions and request.is_secure:",
                "if state.browser_sessions:",
            ),
        ),
    ),
    Mutation(
        "test_user_roasting_through_the_tgs_is_must_use_user2user",
        "orthrus/tgs_exchange.py",
        "server = ticket_server(body.server, entry, ctx.policy)",
        "server = entry or ticket_server(body.server, entry, ctx.policy)",
    ),
    Mutation(
        "test_user_roasting_through_the_as_is_must_use_user2user",
        "orthrus/as_exchange.py",
        "server = ticket_server(server_name, ctx.lookup(server_name), ctx.policy)",
        "server = ctx.lookup(server_name) or ticket_server(server_name, None, ctx.policy)",
    ),
    Mutation(
        "test_user_roasting_with_hidden_names_gets_what_an_unknown_name_gets",
        "orthrus/realm.py",
        "    if policy.hide_unknown_principals:\n",
        "    if entry is None and policy.hide_unknown_principals:\n",
    ),
    Mutation(
        "test_browser_sessions_off_set_and_take_no_cookie",
        "service_lib/flask_ext.py",
        "_AppState(verifier, sessions, self._browser_sessions)",
        "_AppState(verifier, sessions, True)",
    ),
    Mutation(
        "test_session_token_moved_between_header_and_cookie_is_modified",
        "orthrus/session_token.py",
        "if claims.kind != kind:",
        "if False:",
    ),
    Mutation(
        "test_session_outliving_its_ticket_is_modified",
        "orthrus/session_token.py",
        "if claims.expires_at > ticket.endtime:",
        "if False:",
        (
            (
                "service_lib/sessions.py",
                "expires_at = min(now + self.lifetime, identity.endtime)",
                "expires_at = now + self.lifetime",
            ),
        ),
    ),
    Mutation(
        "test_session_whose_ticket_expired_is_tkt_expired",
        "orthrus/session_token.py",
        "    if now >= claims.exp:",
        "    if False:",
    ),
    Mutation(
        "test_replay_after_a_service_restart_is_repeat",
        "service_lib/settings.py",
        'replay_cache: Literal["memory", "sqlite", "redis"] = "sqlite"',
        'replay_cache: Literal["memory", "sqlite", "redis"] = "memory"',
    ),
    Mutation(
        "test_authenticator_from_before_an_in_memory_cache_started_is_repeat",
        "orthrus/replay.py",
        "    if client_time < since:",
        "    if False:",
    ),
    Mutation(
        "test_authenticator_from_before_an_in_memory_cache_started_is_repeat",
        "orthrus/replay.py",
        "    check_remembered(cache, client_time, where)\n    if not cache.check_and_store(",
        "    if not cache.check_and_store(",
    ),
    Mutation(
        "test_authenticator_from_before_an_in_memory_cache_started_is_repeat",
        "service_lib/replay.py",
        "return MemoryReplayCache(started_at=clock())",
        "return MemoryReplayCache()",
    ),
    Mutation(
        "test_replay_after_redis_lost_its_entries_is_repeat",
        "orthrus_io/redis_replay.py",
        "self._local.since, stored = self._mark(",
        "_, stored = self._mark(",
    ),
    Mutation(
        "test_replay_after_the_replay_cache_file_was_lost_is_repeat",
        "orthrus_io/replay.py",
        "created = conn.execute(_MARK, (self._clock(),)).rowcount == 1",
        "created = conn.execute(_MARK, (0.0,)).rowcount == 1",
    ),
    Mutation(
        "test_tgs_request_replayed_after_the_kdc_restarted_is_repeat",
        "kdc/backends.py",
        "else MemoryReplayCache(started_at=time.time())",
        "else MemoryReplayCache()",
    ),
    Mutation(
        "test_tgs_request_replayed_after_the_kdc_restarted_is_repeat",
        "orthrus/tgs_exchange.py",
        'expires_at, now, client_time, "KDC")',
        'expires_at, now, 1e12, "KDC")',
    ),
    Mutation(
        "test_ticket_for_another_principal_of_the_same_keytab_is_not_us",
        "service_lib/settings.py",
        "        if self.accept_any_keytab_principal:\n            return frozenset()",
        "        if True:\n            return frozenset()",
    ),
    Mutation(
        "test_fake_kdc_offering_weak_argon2id_gets_no_timestamp_is_etype_nosupp",
        "orthrus/pwkdf.py",
        "        if value < low:\n",
        "        if False:\n",
    ),
    Mutation(
        "test_fake_kdc_offering_huge_argon2id_is_refused_before_deriving_is_etype_nosupp",
        "orthrus/pwkdf.py",
        "        if value > high:\n",
        "        if False:\n",
    ),
    Mutation(
        "test_fake_kdc_giving_every_victim_one_salt_still_gets_a_key_per_principal",
        "orthrus/pwkdf.py",
        "    return name + random_part",
        "    return random_part",
    ),
    Mutation(
        "test_ccache_directory_planted_by_another_user_is_refused",
        "client_lib/config.py",
        'private_directory(default.parent, "credentials cache directory")',
        "default.parent.mkdir(parents=True, exist_ok=True)",
    ),
    Mutation(
        "test_kdestroy_through_a_planted_symlink_leaves_its_target_alone",
        "orthrus_io/files.py",
        "fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)",
        "fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)",
    ),
    Mutation(
        "test_notes_database_is_not_readable_by_other_users",
        "service_demo/models.py",
        "        _private_file(path)\n",
        "",
    ),
    Mutation(
        "test_user_enumeration_answers_match_in_every_field_for_users_unknown_names_and_services",
        "kdc/enumeration.py",
        "if kdf is None and shown.requires_preauth:",
        "if False:",
    ),
    Mutation(
        "test_service_enumeration_by_as_server_name_is_preauth_required",
        "kdc/enumeration.py",
        "return self.present(principal, entry)",
        "return self.present(principal, entry) if principal == req.client else entry",
    ),
    Mutation(
        "test_service_enumeration_by_as_server_name_is_preauth_required",
        "kdc/enumeration.py",
        "        ticket_server(server, stored[server], ctx.policy)\n",
        "",
    ),
    Mutation(
        "test_user_enumeration_by_database_work_sees_no_difference",
        "kdc/lookups.py",
        "if self.settings.hide_unknown_principals:",
        "if False:",
    ),
    Mutation(
        "test_user_enumeration_by_database_work_sees_no_difference",
        "kdc/lookups.py",
        'groups = tuple(conn.scalars(_GROUPS, {"principal_id": principal_id}))',
        'groups = tuple(conn.scalars(_GROUPS, {"principal_id": principal_id})) if rows else ()',
    ),
    Mutation(
        "test_kerberos_key_swapped_into_another_enctype_or_kvno_does_not_open",
        "kdc/kerberos_keys.py",
        'return f"{name}#{kvno}/{number}"',
        'return f"{name}#{kvno}/"',
    ),
    Mutation(
        "test_der_message_oversized_is_field_toolong",
        "orthrus/der/codec.py",
        "    if len(data) > MAX_MESSAGE_SIZE:",
        "    if False:",
    ),
    Mutation(
        "test_der_authorization_data_nested_too_deep_is_generic_error",
        "orthrus/der/codec.py",
        "        elif depth >= MAX_AD_DEPTH:",
        "        elif False:",
    ),
    Mutation(
        "test_der_truncated_or_garbage_message_is_generic_error",
        "orthrus/der/tlv.py",
        "    if stop > end:\n",
        "    if False:\n",
    ),
    Mutation(
        "test_der_truncated_or_garbage_message_is_generic_error",
        "orthrus/der/tlv.py",
        "            if pos > stop:\n",
        "            if False:\n",
    ),
    Mutation(
        "test_der_truncated_or_garbage_message_is_generic_error",
        "orthrus/der/tlv.py",
        "    if pos + 2 > end:\n",
        "    if False:\n",
    ),
    Mutation(
        "test_der_non_canonical_encoding_is_generic_error",
        "orthrus/der/tlv.py",
        "        if length < 0x80 or data[pos] == 0:",
        "        if False:",
    ),
    Mutation(
        "test_der_non_canonical_encoding_is_generic_error",
        "orthrus/der/kinds.py",
        "            if (first == 0 and not second) or (first == 0xFF and second):",
        "            if False:",
    ),
    Mutation(
        "test_der_non_canonical_encoding_is_generic_error",
        "orthrus/der/codec.py",
        "    if stop != len(data):",
        "    if False:",
    ),
    Mutation(
        "test_der_non_canonical_encoding_is_generic_error",
        "orthrus/der/tlv.py",
        "    if len(text) != 15 or text[14] != 0x5A or not text[:14].isdigit():",
        "    if not text[:14].isdigit():",
    ),
    Mutation(
        "test_der_non_canonical_encoding_is_generic_error",
        "orthrus/der/tlv.py",
        "fits = data[start + 1] == 0x81 and ",
        "fits = ",
    ),
    Mutation(
        "test_der_non_canonical_encoding_is_generic_error",
        "orthrus/der/tlv.py",
        "fits = data[start + 1] == 0x82 and ",
        "fits = ",
    ),
    Mutation(
        "test_der_truncated_or_garbage_message_is_generic_error",
        "orthrus/der/kinds.py",
        "                if pos > stop:\n",
        "                if False:\n",
    ),
    Mutation(
        "test_der_non_canonical_encoding_is_generic_error",
        "orthrus/der/tlv.py",
        "    if length == 0x82 and pos + 2 <= end and data[pos]:",
        "    if length == 0x82 and pos + 2 <= end:",
    ),
    Mutation(
        "test_der_truncated_or_garbage_message_is_generic_error",
        "orthrus/der/tlv.py",
        "    if length == 0x82 and pos + 2 <= end and data[pos]:",
        "    if length == 0x82 and data[pos]:",
    ),
    Mutation(
        "test_der_request_disguised_as_another_message_type_is_generic_error",
        "orthrus/der/codec.py",
        '    if getattr(message, "msg_type", None) != expected:',
        "    if False:",
    ),
    Mutation(
        "test_der_integer_outside_its_asn1_range_is_generic_error",
        "orthrus/der/kinds.py",
        "        if not self.low <= value <= self.high:\n            raise MalformedMessage(",
        "        if False:\n            raise MalformedMessage(",
    ),
    Mutation(
        "test_der_sequence_of_with_a_foreign_element_is_generic_error_not_a_hang",
        "orthrus/der/kinds.py",
        "            if found != tag:\n",
        "            if False:\n",
    ),
    Mutation(
        "test_der_high_tag_number_is_generic_error_even_where_unknown_components_are_skipped",
        "orthrus/der/tlv.py",
        "data[pos + 1] < 0x80 and data[pos] & 0x1F != 0x1F:",
        "data[pos + 1] < 0x80:",
    ),
    Mutation(
        "test_der_high_tag_number_is_generic_error_even_where_unknown_components_are_skipped",
        "orthrus/der/tlv.py",
        "    if tag & 0x1F == 0x1F:\n",
        "    if False:\n",
    ),
    Mutation(
        "test_golden_ticket_with_a_stolen_krbtgt_key_is_modified",
        "orthrus/tgs_exchange.py",
        "        signer.verify_own(tgt, tgs, ctx.policy.max_skew, now)",
        "        pass",
    ),
    Mutation(
        "test_unsigned_tgts_lab_switch_outside_a_lab_realm_is_a_config_error",
        "kdc/config.py",
        "        if self.lab_unsigned_tgts and not self.lab:",
        "        if False:",
    ),
    Mutation(
        "test_principal_deleted_through_another_kdc_on_postgresql_is_c_principal_unknown",
        "kdc/pg_changes.py",
        "    def _heard(self, _notify: object) -> None:\n        self._version += 1",
        "    def _heard(self, _notify: object) -> None:\n        pass",
    ),
    Mutation(
        "test_principal_deleted_through_another_kdc_on_postgresql_is_c_principal_unknown",
        "kdc/migrations/versions/0004_notify_principal_changes.py",
        "PERFORM pg_notify('orthrus_principals', '');",
        "NULL;",
    ),
    Mutation(
        "test_kerberos_tgs_body_changed_after_its_checksum_is_modified",
        "orthrus/kerberos/exchanges.py",
        "binding = kind.enctype.checksum(session, KeyUsage.TGS_REQ_AUTH_CHECKSUM, body)",
        "binding = sent.cksum.checksum",
    ),
    Mutation(
        "test_kerberos_tgs_request_replayed_is_repeat",
        "orthrus/tgs_exchange.py",
        "    check_replay(ctx.replay_cache, opened.replay_entry, expires_at, now, client_time, "
        '"KDC")\n',
        "",
    ),
    Mutation(
        "test_kerberos_golden_ticket_with_a_stolen_krbtgt_key_is_modified",
        "orthrus/tgs_exchange.py",
        "        signer.verify_own(tgt, tgs, ctx.policy.max_skew, now)",
        "        pass",
    ),
    Mutation(
        "test_user_enumeration_over_the_kerberos_wire_gets_the_same_answers",
        "kdc/app.py",
        "if kerberos is not None and isinstance(handle_as, DecoyPrincipals):",
        "if False:",
    ),
    Mutation(
        "test_user_enumeration_over_the_kerberos_wire_gets_the_same_answers",
        "kdc/enumeration.py",
        "if k.salt is not None or k.enctype not in salted",
        "if True",
    ),
    Mutation(
        "test_tgt_the_kdc_remembers_is_refused_once_its_key_version_is_gone",
        "orthrus/tgs_exchange.py",
        "        select_key(tgs.keys, sent.kvno, tgs.principal)"
        "  # its key version is still there\n",
        "",
    ),
    Mutation(
        "test_tgt_the_kdc_remembers_is_refused_once_its_key_version_is_gone",
        "orthrus/tgs_exchange.py",
        "        session_key = tgt.key.to_key()\n",
        "        session_key = tgt.key.to_key()\n"
        "        remember_tgt(ctx, memo, open_authenticator(req.ap_req, tgt, "
        "KeyUsage.TGS_REQ_AUTHENTICATOR, session_key), None)\n",
    ),
    Mutation(
        "test_kerberos_tgt_the_kdc_remembers_is_refused_once_its_key_version_is_gone",
        "orthrus/kerberos/exchanges.py",
        "        server_key(tgs, sealed_tgt)  # its key version is still there\n",
        "",
    ),
    # Remote administration (issue 17 §1): the admin API's ACL, ticket and transport checks.
    Mutation(
        "test_admin_without_the_permission_is_403_naming_it_and_changes_nothing",
        "kdc/admin_api.py",
        "            if not acl.allows(admin, letter, target):",
        "            if False:",
    ),
    Mutation(
        "test_admin_acl_target_pattern_does_not_reach_other_components",
        "orthrus/kadm5acl.py",
        '"[^/@]*" if c == "*"',
        '".*" if c == "*"',
    ),
    Mutation(
        "test_replayed_admin_request_is_repeat_and_done_once",
        "kdc/admin_api.py",
        "            replay_cache=self.ctx.replay_cache,",
        "            replay_cache=type(self.ctx.replay_cache)(),",
    ),
    Mutation(
        "test_admin_request_with_a_ticket_for_another_service_is_not_us",
        "kdc/admin_api.py",
        "        if principal != self.service:",
        "        if False:",
    ),
    Mutation(
        "test_admin_request_moved_to_another_operation_is_modified",
        "kdc/admin_api.py",
        '            expected_checksum=http_binding("POST", request.path),',
        "            expected_checksum=None,",
    ),
    Mutation(
        "test_admin_ktadd_over_plain_http_from_another_host_is_refused",
        "kdc/admin_api.py",
        '        if operation == "ktadd" and not _private_transport():',
        "        if False:",
    ),
    Mutation(
        "test_admin_ktadd_needs_the_extract_permission",
        "orthrus/kadmin.py",
        '    "ktadd": (KtaddRequest, "e"),',
        '    "ktadd": (KtaddRequest, "i"),',
    ),
    Mutation(
        "test_admin_bad_input_is_a_specific_4xx_and_changes_nothing",
        "kdc/admin_api.py",
        "        if request.mimetype != PRIV_CONTENT_TYPE:",
        "        if False:",
    ),
    Mutation(
        "test_admin_call_while_a_back_end_is_down_is_503_and_audited",
        "kdc/admin_api.py",
        "        except Unavailable as exc:  # the database, or the replay cache's Redis",
        "        except LookupError as exc:",
    ),
    # Two-factor login (TOTP, RFC 6238; issue 17 §2).
    Mutation(
        "test_otp_replayed_code_is_refused",
        "orthrus/otp.py",
        '        check_replay(cache, entry, expires_at, now, usable_from, "KDC")\n',
        "        pass\n",
    ),
    Mutation(
        "test_otp_code_the_replay_cache_may_have_forgotten_is_refused",
        "orthrus/otp.py",
        'check_replay(cache, entry, expires_at, now, usable_from, "KDC")',
        'check_replay(cache, entry, expires_at, now, now, "KDC")',
    ),
    Mutation(
        "test_otp_code_from_another_window_is_refused",
        "orthrus/otp.py",
        "range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1)",
        "range(current - 3, current + 4)",
    ),
    Mutation(
        "test_otp_wrong_code_is_counted_by_lockout",
        "orthrus/as_exchange.py",
        "    if second_factor is not None:\n        try:\n",
        "    if guard is not None:\n        guard.succeeded(client.principal)\n"
        "    if second_factor is not None:\n        try:\n",
    ),
    Mutation(
        "test_otp_password_alone_is_refused",
        "orthrus/as_exchange.py",
        '    padata = next((p for p in req.padata if p.type == "otp"), None)\n',
        '    padata = next((p for p in req.padata if p.type == "otp"), None)\n'
        "    if padata is None:\n        return None\n",
    ),
    Mutation(
        "test_otp_code_from_another_window_is_refused",
        "orthrus/as_exchange.py",
        "        second = None if otp_data is None else check_otp(",
        "        second = None if True else check_otp(",
    ),
    Mutation(
        "test_otp_not_enrolled_gets_only_the_enrollment_ticket",
        "orthrus/as_exchange.py",
        "        if req.body.server.components != CHANGEPW_NAME:\n",
        "        if False:\n",
    ),
    Mutation(
        "test_otp_code_sealed_for_another_request_is_refused",
        "orthrus/as_exchange.py",
        "        if sent.nonce != req.body.nonce:\n",
        "        if False:\n",
    ),
    Mutation(
        "test_otp_recovery_code_works_once",
        "orthrus/otp.py",
        "    if codes is None or not codes.consume(principal, recovery_digest(code)):\n",
        "    if codes is None or not (codes.consume(principal, recovery_digest(code)) or True):\n",
    ),
    Mutation(
        "test_kerberos_login_of_an_otp_principal_is_refused",
        "orthrus/kerberos/exchanges.py",
        "    if client.requires_otp:\n",
        "    if False:\n",
    ),
    Mutation(
        "test_otp_service_requiring_it_refuses_a_ticket_without_it",
        "service_lib/flask_ext.py",
        "                if needed_factors and not identity.has_factors(needed_factors):\n",
        "                if False:\n",
    ),
    Mutation(
        "test_otp_service_requiring_it_refuses_a_ticket_without_it",
        "service_lib/verifier.py",
        "            part.key.to_key(),\n            claims.factors,\n",
        '            part.key.to_key(),\n            ("otp",),\n',
    ),
    Mutation(
        "test_otp_enrolling_again_without_a_code_is_refused",
        "kdc/otp.py",
        "        if claims is None or otp.FACTOR not in claims.factors:\n",
        "        if False:\n",
    ),
    Mutation(
        "test_otp_factor_holds_in_every_ticket_of_a_tgt_the_kdc_remembers",
        "orthrus/tgs_exchange.py",
        "        factors = known.factors if known is not None else _factors(tgt)\n",
        "        factors = () if known is not None else _factors(tgt)\n",
    ),
    Mutation(
        "test_otp_forged_auth_factors_claim_is_modified",
        "orthrus/authz.py",
        '                    "verify_iat": now is None,\n',
        '                    "verify_iat": now is None,\n'
        '                    "verify_signature": False,\n',
    ),
    # -- delegation (issue 17 §3) --
    Mutation(
        "test_delegation_to_a_service_not_allowed_is_badoption",
        "orthrus/delegation.py",
        "    if target not in service.delegate_to:",
        "    if False:",
    ),
    Mutation(
        "test_s4u2proxy_by_a_service_with_no_permission_is_badoption",
        "orthrus/delegation.py",
        "    if target not in service.delegate_to:",
        "    if service.delegate_to and target not in service.delegate_to:",
    ),
    Mutation(
        "test_delegation_with_an_evidence_ticket_for_another_service_is_badoption",
        "orthrus/delegation.py",
        "    if ticket.server != service.principal:",
        "    if False:",
    ),
    Mutation(
        "test_delegation_with_evidence_minted_with_the_service_key_is_modified",
        "orthrus/delegation.py",
        "    ctx.signer.verify_own(part, service.principal, ctx.policy.max_skew, now)\n",
        "",
    ),
    Mutation(
        "test_delegation_of_a_non_forwardable_ticket_is_badoption",
        "orthrus/delegation.py",
        'if "forwardable" not in evidence.flags or not user.allow_forwardable:',
        "if not user.allow_forwardable:",
    ),
    Mutation(
        "test_forwarding_a_non_forwardable_tgt_is_badoption",
        "orthrus/delegation.py",
        '    if "forwardable" not in tgt.flags:',
        "    if False:",
    ),
    Mutation(
        "test_forwarding_a_non_forwardable_tgt_is_badoption",
        "orthrus/delegation.py",
        "    if not client.allow_forwardable:",
        "    if False:",
    ),
    Mutation(
        "test_delegated_by_tampered_with_the_back_end_key_is_modified",
        "orthrus/authz.py",
        '                    "verify_iat": now is None,',
        '                    "verify_iat": now is None,\n'
        '                    "verify_signature": False,',
    ),
    Mutation(
        "test_forwarded_tgt_of_another_client_is_modified",
        "orthrus/forwarding.py",
        "    if tgt.client != client:",
        "    if False:",
    ),
    Mutation(
        "test_delegation_without_evidence_or_for_a_revoked_or_expired_user_is_refused",
        "orthrus/delegation.py",
        "    if len(body.additional_tickets) != 1:",
        "    if False:",
    ),
    Mutation(
        "test_delegation_without_evidence_or_for_a_revoked_or_expired_user_is_refused",
        "orthrus/delegation.py",
        "    if now > part.endtime + ctx.policy.max_skew:",
        "    if False:",
    ),
    Mutation(
        "test_delegation_without_evidence_or_for_a_revoked_or_expired_user_is_refused",
        "orthrus/delegation.py",
        "    if user is None or not user.allow_tickets:",
        "    if user is None:",
    ),
    Mutation(
        "test_delegation_without_evidence_or_for_a_revoked_or_expired_user_is_refused",
        "orthrus/delegation.py",
        "    if ctx.signer is None:",
        "    if False:",
    ),
    Mutation(
        "test_forwarded_ticket_for_a_service_is_badoption",
        "orthrus/delegation.py",
        "    if body.server != tgs:",
        "    if False:",
    ),
    Mutation(
        "test_kerberos_reply_to_an_earlier_request_is_refused",
        "orthrus/kerberos/client.py",
        "    if part.nonce != body.nonce:",
        "    if False:",
    ),
    Mutation(
        "test_kerberos_reply_under_another_key_is_refused",
        "orthrus/enctypes/rfc3961.py",
        "    if not hmac.compare_digest(expected, received):",
        "    if False:",
    ),
    Mutation(
        "test_kerberos_reply_for_another_client_is_refused",
        "orthrus/kerberos/client.py",
        "    if client != request.client:",
        "    if False:",
    ),
    Mutation(
        "test_negotiate_mutual_answer_without_the_service_token_fails_closed",
        "client_lib/http_auth.py",
        "            if pending.mutual:",
        "            if False:",
    ),
    Mutation(
        "test_negotiate_mutual_answer_replayed_from_another_request_fails_closed",
        "client_lib/http_auth.py",
        "        return complete_security_context(pending.context, token)",
        "        return None",
    ),
    Mutation(
        "test_negotiate_header_replayed_is_repeat",
        "orthrus/ap.py",
        "    check_replay(rules.replay_cache, opened.replay_entry, expires_at, now, client_time, "
        "rules.where)\n",
        "",
    ),
    Mutation(
        "test_negotiate_ticket_for_another_service_of_the_keytab_is_not_us",
        "service_lib/keytab_source.py",
        "kerberos = {p: k for p, k in kerberos.items() if p in accepted}",
        "kerberos = dict(kerberos)",
    ),
    Mutation(
        "test_negotiate_ticket_with_a_flipped_bit_is_modified",
        "orthrus/enctypes/rfc3961.py",
        "    if not hmac.compare_digest(expected, received):",
        "    if False:",
    ),
    Mutation(
        "test_negotiate_silver_ticket_with_forged_groups_is_modified",
        "service_lib/verifier.py",
        "else self._check_authz(snapshot, part, server, now)",
        "else unverified_groups(part)",
    ),
    Mutation(
        "test_negotiate_ap_rep_of_an_earlier_exchange_is_mut_fail",
        "orthrus/ap.py",
        "    if replied != sent:\n",
        "    if False:\n",
    ),
    Mutation(
        "test_kerberos_reply_granting_longer_than_asked_is_refused",
        "orthrus/kerberos/client.py",
        "    if part.endtime > body.till or",
        "    if False or",
    ),
    Mutation(
        "test_cross_realm_forged_transited_path_is_refused",
        "orthrus/crossrealm.py",
        "if allowed is None or tuple(allowed) != path:",
        "if False:",
    ),
    Mutation(
        "test_cross_realm_forged_transited_path_is_refused",
        "orthrus/crossrealm.py",
        "if allowed is None or tuple(allowed) != path:",
        "if allowed is None or set(allowed) > set(path):",
    ),
    Mutation(
        "test_cross_realm_tgt_of_realm_without_trust_is_refused",
        "orthrus/tgs_exchange.py",
        "    entry = ctx.lookup(server)\n    if entry is None and issuer is not None:",
        "    entry = ctx.lookup(server) or ctx.lookup(local_tgs)\n    if False:",
    ),
    Mutation(
        "test_cross_realm_tgt_used_as_local_tgt_is_refused",
        "orthrus/tgs_exchange.py",
        'if "renew" in body.options or body.server == krbtgt(realm):',
        'if "renew" in body.options:',
    ),
    Mutation(
        "test_cross_realm_groups_are_not_granted_by_the_other_realm",
        "orthrus/tgs_exchange.py",
        "        ctx.cross_realm.groups_of(tgt.client),\n",
        '        tuple(__import__("jwt").decode(tgt.authorization_data or "", '
        'options={"verify_signature": False})["groups"]),\n',
    ),
    Mutation(
        "test_cross_realm_groups_are_not_granted_by_the_other_realm",
        "orthrus/tgs_exchange.py",
        "        ctx.cross_realm.groups_of(tgt.client),\n",
        "        ctx.lookup(Principal(tgt.client.components, realm)).groups,  # type: ignore\n",
    ),
    Mutation(
        "test_cross_realm_login_factors_are_not_taken_from_the_other_realm",
        "orthrus/tgs_exchange.py",
        '        ("transited-policy-checked",),\n    )\n',
        '        ("transited-policy-checked",),\n        factors=_factors(tgt),\n    )\n',
    ),
    Mutation(
        "test_forwarding_or_delegation_for_a_cross_realm_client_is_badoption",
        "orthrus/tgs_exchange.py",
        "    if client.entry is None:\n        raise KDCError(",
        "    if False:\n        raise KDCError(",
    ),
    Mutation(
        "test_cross_realm_client_claiming_this_realm_is_refused",
        "orthrus/crossrealm.py",
        "    if client.realm == realm:\n",
        "    if False:\n",
    ),
    Mutation(
        "test_lab_crack_claim_counts_only_if_it_opens_the_reply_the_kdc_sent",
        "labs/wire_checks.py",
        "if found is None or not found[1].opens(password):",
        "if found is None:",
    ),
    Mutation(
        "test_lab_crack_claim_counts_only_if_it_opens_the_reply_the_kdc_sent",
        "labs/wire_checks.py",
        "    found = recorded.get(cipher)\n",
        "    found = (line, parse_hash(line))  # the claim itself, not what the KDC sent\n",
    ),
    Mutation(
        "test_class_grading_counts_a_wire_tgs_only_when_the_kdc_granted_it",
        "labs/classroom/grading.py",
        'granted = event.component == "kdc" and event.exchange == "TGS" and event.ok',
        "granted = True",
    ),
    Mutation(
        "test_class_trace_every_key_view_needs_the_dashboard_token",
        "labs/classroom/dashboard.py",
        'return refused() if request.path.startswith("/trace/api/") else None',
        "return None",
    ),
    Mutation(
        "test_class_trace_every_key_view_needs_the_dashboard_token",
        "labs/classroom/dashboard.py",
        "        if name != INSTRUCTOR:\n",
        "        if False:\n",
    ),
]


def changes(mutation: Mutation) -> tuple[tuple[str, str, str], ...]:
    """Every ``(path, old, new)`` the mutation makes."""
    return ((mutation.path, mutation.old, mutation.new), *mutation.also)


def stale(tree: Path = ROOT) -> list[str]:
    """The entries whose text to change is not in ``tree`` exactly once (the source moved),
    one line each; checked by ``make test`` so that an edit shows up before ``make mutations``."""
    return [
        f"{mutation.test}: {path}: {old!r} is there {(tree / path).read_text().count(old)} times"
        for mutation in MUTATIONS
        for path, old, _ in changes(mutation)
        if (tree / path).read_text().count(old) != 1
    ]


def run(mutation: Mutation, python: str) -> tuple[str, str]:
    """(verdict, detail): ``killed`` when the test failed, as it must (not erred in set-up)."""
    with tempfile.TemporaryDirectory(prefix="orthrus-mut-") as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(ROOT, tree, ignore=IGNORE, symlinks=True)
        for path, old, new in changes(mutation):
            target = tree / path
            source = target.read_text()
            if source.count(old) != 1:
                return "stale", f"{path}: the text to change is not there exactly once"
            target.write_text(source.replace(old, new))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORTHRUS_")}
        env.update(PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
        for name in ("ORTHRUS_TEST_REDIS_URL", "ORTHRUS_TEST_PG_URL"):
            if name in os.environ:
                env[name] = os.environ[name]
        result = subprocess.run(
            [
                python,
                "-m",
                "pytest",
                "-q",
                "-x",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                f"tests/test_attacks.py::{mutation.test}",
            ],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        last = (result.stdout.strip().splitlines() or [""])[-1]
        # An error in a fixture means the mutation broke the set-up, not that the test caught it.
        if result.returncode == 1 and "failed" in last and "error" not in last:
            return "killed", last
        if result.returncode == 0:
            return ("skipped" if "skipped" in last else "SURVIVED"), last
        return "error", last


#: The libraries whose versions the recorded figures name (those the defences lean on).
KEY_LIBRARIES = (
    "cryptography",
    "msgspec",
    "pyjwt",
    "flask",
    "uvloop",
    "httptools",
    "sqlalchemy",
    "redis",
)


def covered(mutation: Mutation) -> bool:
    """Whether the installed library is one that, by the entry, makes the defence itself."""
    if not mutation.covered_by:
        return False
    name, since = mutation.covered_by.split()
    return Version(metadata.version(name)) >= Version(since)


def judge(mutation: Mutation, verdict: str) -> tuple[str, str]:
    """(verdict, note): a covered survivor is ``covered``; a covered entry killed is noted."""
    if verdict == "SURVIVED" and covered(mutation):
        return "covered", f"covered by {mutation.covered_by}"
    if verdict == "killed" and mutation.covered_by:
        return "killed", f"no longer covered by {mutation.covered_by}: drop covered_by"
    return verdict, ""


def attack_tests() -> list[str]:
    """The node ids pytest collects from tests/test_attacks.py (slow ones too)."""
    collect = ["--collect-only", "-q", "-m", "", "-p", "no:cacheprovider", "tests/test_attacks.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *collect],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if line.startswith("tests/")]


def figures(verdicts: Counter[str], covers: list[tuple[Mutation, str]], seconds: float) -> str:
    """The section of docs/security.md that a full run writes."""
    ids = attack_tests()
    tests = {node.split("::")[1].split("[")[0] for node in ids}
    untested = sorted(tests - {m.test for m in MUTATIONS})
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in KEY_LIBRARIES)
    bad = sum(n for verdict, n in verdicts.items() if verdict not in ("killed", "covered"))
    lines = [
        f"Last run of `make mutations`: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()} "
        f"({versions}; every version in `requirements/dev.lock`), {seconds / 60:.0f} min. "
        f"`tests/test_attacks.py` has {len(tests)} tests ({len(ids)} with their parameters); "
        f"{len(MUTATIONS)} mutations, "
        + ("at least one per test" if not untested else f"none for {', '.join(untested)}")
        + f": **{verdicts['killed']} made their test fail**, {verdicts['covered']} covered by "
        f"a library's own check, {bad} survived or could not run.",
    ]
    if covers:
        lines += [
            "",
            "Covered by a library (the test still runs and passes; the project keeps its own "
            "check for the older versions `pyproject.toml` allows):",
            "",
            *(f"- `{m.test}` (`{m.path}`): {note}" for m, note in covers),
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="", help="only tests whose name has this")
    parser.add_argument("--record", type=Path, help="write the figures into this Markdown file")
    args = parser.parse_args()
    if args.record and args.pattern:
        parser.error("--record needs a full run (no pattern)")
    chosen = [m for m in MUTATIONS if args.pattern in m.test]
    started = time.monotonic()
    verdicts: Counter[str] = Counter()
    covers: list[tuple[Mutation, str]] = []
    for mutation in chosen:
        verdict, detail = run(mutation, sys.executable)
        verdict, note = judge(mutation, verdict)
        verdicts[verdict] += 1
        if verdict == "covered":
            covers.append((mutation, note))
        note = f"  ({note})" if note else ""
        print(f"{verdict:8} {mutation.test}  [{mutation.path}]  {detail}{note}", flush=True)
    bad = len(chosen) - verdicts["killed"] - verdicts["covered"]
    print(
        f"{verdicts['killed']} of {len(chosen)} mutations killed by their test, "
        f"{verdicts['covered']} covered by a library, {bad} survived or could not run"
    )
    if args.record:
        text = figures(verdicts, covers, time.monotonic() - started)
        replace_section(args.record, "mutations", text)
        print(f"figures written to {args.record}")
    # The closing line CI reads (a killed or covered mutation is a check that held).
    print(f"mutations: {len(chosen) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
