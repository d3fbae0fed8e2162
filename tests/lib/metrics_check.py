#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Compare a scrape of `wgxdp run --metrics` with the counters it comes from.

  metrics_check.py SCRAPE STATUS_JSON PEERS_JSON FLOWS_JSON [--no-tunnel] [--installs N]

SCRAPE: the text of GET /metrics; STATUS_JSON: `wgxdp status --json`; PEERS_JSON:
`wgxdp peers --json --wg IFACE`; FLOWS_JSON: `wgxdp flows --json` (or an empty file when the
tunnel is not attached). Prints every mismatch and exits 1 if there is any; exits 0 silently
when every value equals its source. Used by tests/integration/metrics.sh.
"""
import json
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value}, and the families' TYPE lines."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, typ = line.split(' ', 3)
            types[name] = typ
            continue
        if not line or line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise SystemExit('unparsable line: %r' % line)
        labels = frozenset(LABEL.findall(m.group(3) or ''))
        key = (m.group(1), labels)
        if key in samples:
            raise SystemExit('duplicate series: %r' % line)
        samples[key] = float(m.group(4))
    return samples, types


def main():
    args = sys.argv[1:]
    no_tunnel = '--no-tunnel' in args
    installs = None
    if '--installs' in args:
        installs = int(args[args.index('--installs') + 1])
    scrape, status, peers, flows = [open(a).read() for a in args[:4]]
    s, types = parse(scrape)
    status = json.loads(status)
    peers = json.loads(peers)
    bad = []

    def get(name, **labels):
        return s.get((name, frozenset(labels.items())))

    def expect(what, got, want):
        if got != want:
            bad.append('%s: metrics say %s, the source says %s' % (what, got, want))

    expect('wgxdp_build_info', len([k for k in s if k[0] == 'wgxdp_build_info']), 1)

    # uplink: every series that is there equals status --json; every non-zero counter is there
    for i in status['interfaces']:
        n = i['name']
        expect('wgxdp_uplink_attached{%s}' % n, get('wgxdp_uplink_attached', interface=n),
               1 if i['attached'] else 0)
        lost = 0
        for cls, c in i['counters'].items():
            for reason, v in c['reasons'].items():
                for verdict in ('pass', 'drop'):
                    got = get('wgxdp_uplink_packets_total', interface=n, **{'class': cls},
                              reason=reason, verdict=verdict)
                    if v[verdict] or got is not None:
                        expect('uplink %s %s/%s/%s' % (n, cls, reason, verdict), got,
                               v[verdict])
                    if reason == 'event_lost':
                        lost += v[verdict]
            if cls not in ('other', 'unknown'):  # always there for WireGuard messages
                ok = get('wgxdp_uplink_packets_total', interface=n, **{'class': cls},
                         reason='ok', verdict='pass')
                expect('uplink %s %s/ok/pass' % (n, cls), ok,
                       c['reasons'].get('ok', {}).get('pass', 0))
        expect('wgxdp_handshake_events_lost_total{%s}' % n,
               get('wgxdp_handshake_events_lost_total', interface=n), lost)
        for k in s:
            if k[0] == 'wgxdp_uplink_packets_total' and ('interface', n) in k[1]:
                lb = dict(k[1])
                v = i['counters'][lb['class']]['reasons'].get(lb['reason'], {})
                expect('uplink %s %s' % (n, sorted(lb.items())), s[k], v.get(lb['verdict'], 0))

    # tunnel: every (direction, reason) equals status --json; absent when not attached
    t = status['tunnel']
    tun_series = [k for k in s if k[0].startswith('wgxdp_tunnel_')]
    if no_tunnel or t is None:
        expect('tunnel series while not attached', len(tun_series), 0)
    else:
        n_series = 0
        for k in s:
            if k[0] not in ('wgxdp_tunnel_packets_total', 'wgxdp_tunnel_bytes_total'):
                continue
            n_series += 1
            lb = dict(k[1])
            r = t['counters'][lb['direction']]['reasons'].get(lb['reason'])
            field = 'packets' if k[0] == 'wgxdp_tunnel_packets_total' else 'bytes'
            expect('tunnel %s %s' % (field, sorted(lb.items())), s[k], r[field] if r else 0)
            if r:
                expect('tunnel verdict of %s' % lb['reason'], lb['verdict'], r['verdict'])
        # every reason of maps/wgxdp.h's enum wgx_tun_reason, both directions, packets and bytes
        import re
        hdr = open('maps/wgxdp.h').read()
        block = hdr[hdr.index('WGX_TR_ALLOWED = 0'):hdr.index('WGX_TR__MAX')]
        nr = len([n for n in re.findall(r'\b(WGX_TR_[A-Z_]+)\b', block) if n != 'WGX_TR_PASS_MAX'])
        expect('tunnel series (2 directions x %d reasons x packets, bytes)' % nr, n_series, 4 * nr)
        for d, c in t['counters'].items():
            for reason, r in c['reasons'].items():
                expect('tunnel %s/%s present' % (d, reason),
                       get('wgxdp_tunnel_packets_total', direction=d, verdict=r['verdict'],
                           reason=reason), r['packets'])
        expect('wgxdp_tunnel_deny_events_held_total',
               get('wgxdp_tunnel_deny_events_held_total'), t['deny_events_held'])
        expect('wgxdp_tunnel_policy_loaded', get('wgxdp_tunnel_policy_loaded'),
               1 if t['policy_loaded'] else 0)
        f = json.loads(flows)
        expect('wgxdp_tunnel_flows', get('wgxdp_tunnel_flows'), len(f['flows']))
        expect('wgxdp_tunnel_flow_entries', get('wgxdp_tunnel_flow_entries'), f['entries'])
        expect('wgxdp_tunnel_flow_capacity', get('wgxdp_tunnel_flow_capacity'), f['capacity'])
        # denies by group: each user's denied packets in each of her groups ("" for none)
        by_group = {}
        for u in f['denies']:
            for g in u['groups'] or ['']:
                by_group[g] = by_group.get(g, 0) + u['denied']
        for g, n in by_group.items():
            expect('denied in group %r' % g, get('wgxdp_tunnel_denied_packets_total', group=g), n)
        expect('denied groups listed',
               len([k for k in s if k[0] == 'wgxdp_tunnel_denied_packets_total']), len(by_group))

    # the daemon: its counters as `wgxdp peers --json` reads them from wgx_jit_stats
    d = peers['daemon']
    outcomes = ['installed', 'existing', 'other_port', 'bad_source', 'bad_mac1', 'throttled',
                'not_for_us', 'unauthenticated', 'replayed', 'unknown_key', 'unknown_cached',
                'unknown_group', 'disabled', 'expired', 'address_conflict', 'api_errors',
                'install_errors']
    for o in outcomes:
        expect('initiations %s' % o, get('wgxdp_handshake_initiations_total', outcome=o), d[o])
    expect('outcomes listed', len([k for k in s if k[0] == 'wgxdp_handshake_initiations_total']),
           len(outcomes))
    expect('reinjected', get('wgxdp_handshake_reinjections_total', result='reinjected'),
           d['reinjected'])
    expect('reinject refused', get('wgxdp_handshake_reinjections_total', result='refused'),
           d['reinject_refused'])
    expect('adopted', get('wgxdp_peers_adopted_total'), d['adopted'])
    for r in ('idle', 'policy', 'api'):
        expect('removed %s' % r, get('wgxdp_peers_removed_total', reason=r), d['removed_' + r])
    expect('policy applied', get('wgxdp_policy_applies_total', result='applied'),
           d['policy_applied'])
    expect('policy errors', get('wgxdp_policy_applies_total', result='error'),
           d['policy_errors'])
    for r, f in (('fetched', 'groups_fetched'), ('unchanged', 'groups_unchanged'),
                 ('error', 'groups_errors')):
        expect('groups %s' % r, get('wgxdp_api_groups_fetches_total', result=r), d[f])
    expect('wgxdp_managed_peers', get('wgxdp_managed_peers'),
           len([p for p in peers['peers'] if p['present']]))

    # the histogram: cumulative buckets, +Inf = _count, as many as installs since the start
    b = sorted((float(dict(k[1])['le']), v) for k, v in s.items()
               if k[0] == 'wgxdp_peer_install_seconds_bucket')
    if not b or b[-1][0] != float('inf'):
        bad.append('wgxdp_peer_install_seconds: no +Inf bucket')
    else:
        for (le0, v0), (le1, v1) in zip(b, b[1:]):
            if v1 < v0:
                bad.append('bucket le=%s (%s) < le=%s (%s)' % (le1, v1, le0, v0))
        cnt = get('wgxdp_peer_install_seconds_count')
        expect('+Inf bucket = _count', b[-1][1], cnt)
        if installs is not None:
            expect('wgxdp_peer_install_seconds_count', cnt, installs)
        sm = get('wgxdp_peer_install_seconds_sum')
        if sm is None or sm < 0 or (cnt == 0 and sm != 0):
            bad.append('wgxdp_peer_install_seconds_sum: %s' % sm)
    for name, typ in (('wgxdp_peer_install_seconds', 'histogram'),
                      ('wgxdp_handshake_initiations_total', 'counter'),
                      ('wgxdp_managed_peers', 'gauge')):
        expect('TYPE of %s' % name, types.get(name), typ)

    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)


main()
