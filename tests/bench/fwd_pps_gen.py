#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The inputs of tests/bench/fwd_pps.sh for one size, all describing the same policy:

  fwd_pps_gen.py DIR USERS PREFIXES GROUPS FLOWS IPT_MAX NFT_CHUNK

USERS users, each in one of GROUPS groups, PREFIXES /26 destination prefixes in all, each
group allowing PREFIXES/GROUPS of them (its own). Each group has a block of tunnel addresses
in 100.64.0.0/10, a CIDR (the users per group rounded up to a power of two), its users a /32
each from the start of it: the layout an operator who writes source intervals would choose.
Writes into DIR:

  policy.json   the wgxdp policy file (random 32-byte keys: the loader checks only the size)
  nft.conf      `nft -f`: table ip wgxbench, an empty concatenated interval set `allowed`
                (type ipv4_addr . ipv4_addr; flags interval), one rule that looks it up
                (ip saddr . ip daddr @allowed accept), policy drop and established/related
                accepted first
  nft.elem.N    `nft -f`: its elements in chunks of NFT_CHUNK, "the group's block . prefix"
                for every (group, prefix) (in chunks so that the caller can stop after one
                when the load has taken too long: a single nft batch cannot be interrupted)
  ipt.rules     `iptables-restore`: one rule per (user, prefix) in FORWARD, policy drop and
                established/related first; only when USERS * PREFIXES/GROUPS <= IPT_MAX
  flows         FLOWS lines "SRC DST SPORT DPORT" for udpblast: a random user, a random prefix
                of her group, a random host in it, so every filter allows every packet
  meta          "ipt_rules=N nft_elements=N"
"""
import base64
import ipaddress
import os
import random
import sys


def main():
    out = sys.argv[1]
    users, prefixes, groups, nflows, ipt_max, chunk = map(int, sys.argv[2:8])
    assert prefixes % groups == 0 and users >= groups
    per_group = prefixes // groups
    rnd = random.Random(users * 1000003 + prefixes * 1009 + groups)

    user_base = int(ipaddress.IPv4Address("100.64.0.0"))
    dst_base = int(ipaddress.IPv4Address("10.0.0.0"))
    stride = 64 * ((1 << 18) // prefixes)  # /26 prefixes spread over 10.0.0.0/8
    assert stride >= 64

    def ip(n):
        return str(ipaddress.IPv4Address(n))

    def group_of(u):
        return u * groups // users

    def prefix(k):
        return dst_base + k * stride

    # users of group g: [first[g], first[g + 1]); its block: block addresses from g * block
    first = [-(-g * users // groups) for g in range(groups + 1)]
    most = max(first[g + 1] - first[g] for g in range(groups))
    block = 1 << (most - 1).bit_length()
    assert groups * block <= 1 << 22
    addr = [0] * users
    for g in range(groups):
        for u in range(first[g], first[g + 1]):
            addr[u] = user_base + g * block + u - first[g]

    with open(os.path.join(out, "policy.json"), "w") as f:
        f.write('{"groups": {\n')
        for g in range(groups):
            allow = ", ".join('"%s/26"' % ip(prefix(k))
                              for k in range(g * per_group, (g + 1) * per_group))
            f.write('"g%d": {"allow": [%s]}%s\n' % (g, allow, "," if g < groups - 1 else ""))
        f.write('}, "users": [\n')
        for u in range(users):
            key = base64.b64encode(rnd.getrandbits(256).to_bytes(32, "little")).decode()
            f.write('{"name": "u%d", "public_key": "%s", "addresses": ["%s/32"], "groups": ["g%d"]}%s\n'
                    % (u, key, ip(addr[u]), group_of(u), "," if u < users - 1 else ""))
        f.write("]}\n")

    with open(os.path.join(out, "nft.conf"), "w") as f:
        f.write("table ip wgxbench {\n"
                "  set allowed {\n"
                "    type ipv4_addr . ipv4_addr\n"
                "    flags interval\n"
                "  }\n"
                "  chain forward {\n"
                "    type filter hook forward priority filter; policy drop;\n"
                "    ct state established,related accept\n"
                "    ip saddr . ip daddr @allowed accept\n"
                "  }\n}\n")
    elems = []
    for g in range(groups):
        base = user_base + g * block
        src = ip(base) if block == 1 else "%s/%d" % (ip(base), 32 - (block.bit_length() - 1))
        for k in range(g * per_group, (g + 1) * per_group):
            elems.append("%s . %s/26" % (src, ip(prefix(k))))
    for old in os.listdir(out):
        if old.startswith("nft.elem."):
            os.unlink(os.path.join(out, old))
    for i in range(0, len(elems), chunk):
        with open(os.path.join(out, "nft.elem.%03d" % (i // chunk)), "w") as f:
            f.write("add element ip wgxbench allowed {\n  %s\n}\n"
                    % ",\n  ".join(elems[i:i + chunk]))

    ipt_rules = users * per_group
    path = os.path.join(out, "ipt.rules")
    if ipt_rules <= ipt_max:
        with open(path, "w") as f:
            f.write("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n")
            for u in range(users):
                g = group_of(u)
                src = ip(addr[u])
                for k in range(g * per_group, (g + 1) * per_group):
                    f.write("-A FORWARD -s %s/32 -d %s/26 -j ACCEPT\n" % (src, ip(prefix(k))))
            f.write("COMMIT\n")
    elif os.path.exists(path):
        os.unlink(path)

    with open(os.path.join(out, "flows"), "w") as f:
        for _ in range(nflows):
            u = rnd.randrange(users)
            g = group_of(u)
            k = rnd.randrange(g * per_group, (g + 1) * per_group)
            f.write("%s %s %d 9\n" % (ip(addr[u]), ip(prefix(k) + rnd.randrange(1, 63)),
                                      rnd.randrange(1024, 65536)))

    with open(os.path.join(out, "meta"), "w") as f:
        f.write("ipt_rules=%d nft_elements=%d\n" % (ipt_rules, prefixes))


if __name__ == "__main__":
    main()
