// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The JSON policy file (issue 4) and the peer API's user objects, parsed with jansson and
 * validated with where and why. Public keys are indexed in an open-addressing hash table
 * (the keys are X25519 public keys, already uniform: their first 8 bytes are the hash).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "loader/policy.h"
#include "maps/wgxdp.h"
#include "loader/wipe.h"

/* ---- errors ---- */

/* snprintf, out of line: paths are cut at the buffer's size, on purpose. */
__attribute__((format(printf, 3, 4)))
static void strfmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

struct ctx {
	struct wgx_policy_err *errs;
	unsigned int max, nr;
	struct wgx_addr_limits lim;
	bool unknown_group;	/* the first problem was a group not in the policy */
};

/* Control characters of a value echoed into a message become '?': errors get logged. */
static void unctrl(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

__attribute__((format(printf, 3, 4)))
static int fail(struct ctx *c, const char *where, const char *fmt, ...)
{
	struct wgx_policy_err *e = &c->errs[c->nr];
	va_list ap;

	if (c->nr < c->max) {
		strfmt(e->where, sizeof(e->where), "%s", where);
		va_start(ap, fmt);
		vsnprintf(e->why, sizeof(e->why), fmt, ap);
		va_end(ap);
		unctrl(e->where);
		unctrl(e->why);
	}
	c->nr++;
	return -EINVAL;
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* Unknown fields are errors: a typo ("expire") must not silently mean "never expires". */
static int check_fields(struct ctx *c, const char *where, json_t *obj, const char *const *known)
{
	const char *key;
	json_t *v;
	int i, ret = 0;

	json_object_foreach(obj, key, v) {
		for (i = 0; known[i]; i++)
			if (!strcmp(key, known[i]))
				break;
		if (!known[i])
			ret = fail(c, where, "unknown field \"%s\"", key);
		if (ret)
			return ret;
	}
	return 0;
}

/* A user or group name (policy.h) of len bytes: what is its name, max its longest. */
static int check_name(struct ctx *c, const char *where, const char *what, const char *s,
		      size_t len, size_t max)
{
	size_t i;

	if (!len)
		return fail(c, where, "%s is empty", what);
	if (len > max)
		return fail(c, where, "%s is %zu bytes, longer than %zu", what, len, max);
	for (i = 0; i < len; i++)
		if (!(s[i] && strchr("._@+-", s[i])) && !(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9'))
			return fail(c, where, "%s has a character outside A-Z a-z 0-9 . _ @ + - "
				    "(byte %zu)", what, i);
	if (s[0] == '-' || s[0] == '.')
		return fail(c, where, "%s starts with '%c'", what, s[0]);
	return 0;
}

/* ---- prefixes ---- */

int wgx_prefix_parse(const char *s, struct wgx_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct wgx_prefix p = {};
	unsigned int max, i;
	long plen;
	bool host = false;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, p.addr) == 1) {
		p.family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p.addr) == 1) {
		p.family = 6;
		max = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (errno || *end || plen < 0 || plen > max || (slash[1] == '0' && slash[2]))
			return -EINVAL;
		p.plen = plen;
	} else {
		p.plen = max;
	}
	for (i = 0; i < 16; i++) {
		unsigned int bits = p.plen > 8 * i ? p.plen - 8 * i : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);

		if (p.addr[i] & ~mask)
			host = true;
		p.addr[i] &= mask;
	}
	*out = p;
	return host ? -EDOM : 0;
}

void wgx_prefix_format(const struct wgx_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a)))
		strfmt(a, sizeof(a), "?");
	strfmt(buf, len, "%s/%u", a, p->plen);
}

/* Parses a prefix string at where; host bits set is an error that names the network. */
static int parse_prefix(struct ctx *c, const char *where, json_t *j, struct wgx_prefix *out)
{
	const char *s = json_string_value(j);
	char net[64];
	int ret;

	if (!s)
		return fail(c, where, "expected a prefix string like \"10.0.0.0/8\", got %s",
			    json_kind(j));
	ret = wgx_prefix_parse(s, out);
	if (ret == -EDOM) {
		wgx_prefix_format(out, net, sizeof(net));
		return fail(c, where, "%s: host bits set (the network is %s)", s, net);
	}
	if (ret)
		return fail(c, where, "%s: not an IPv4 or IPv6 prefix", s);
	return 0;
}

static const struct {
	const char *name;
	uint8_t proto;
} protos[] = {
	{ "any", 0 }, { "icmp", IPPROTO_ICMP }, { "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP },
	{ "icmpv6", IPPROTO_ICMPV6 }, { "sctp", IPPROTO_SCTP },
};

static int parse_port(const char *s, const char **end, uint16_t *port)
{
	unsigned long v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9' && p - s < 6)
		v = v * 10 + (unsigned long)(*p++ - '0');
	if (p == s || v < 1 || v > 65535 || (*s == '0'))
		return -EINVAL;
	*port = v;
	*end = p;
	return 0;
}

static int parse_ports(struct ctx *c, const char *where, json_t *j, struct wgx_prefix *out)
{
	const char *s = json_string_value(j), *end;
	char num[16];

	if (json_is_integer(j)) {
		strfmt(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		s = num;
	}
	if (!s)
		return fail(c, where, "expected a port string like \"22\" or \"8000-8999\", got %s",
			    json_kind(j));
	if (parse_port(s, &end, &out->port_lo))
		goto bad;
	out->port_hi = out->port_lo;
	if (*end == '-' && parse_port(end + 1, &end, &out->port_hi))
		goto bad;
	if (*end)
		goto bad;
	if (out->port_hi < out->port_lo)
		return fail(c, where, "\"%s\": the range ends before it starts", s);
	return 0;
bad:
	return fail(c, where, "\"%s\": not a port (1-65535) or a range like \"8000-8999\"", s);
}

/* An allow entry: "cidr" or {"cidr": ..., "proto": ..., "ports": ...}. */
static int parse_allow(struct ctx *c, const char *where, json_t *j, struct wgx_prefix *out)
{
	static const char *const fields[] = { "cidr", "proto", "ports", NULL };
	char w[160];
	json_t *v;
	const char *s;
	size_t i;
	int ret;

	if (json_is_string(j))
		return parse_prefix(c, where, j, out);
	if (!json_is_object(j))
		return fail(c, where, "expected a prefix string or "
			    "{\"cidr\", \"proto\", \"ports\"}, got %s", json_kind(j));
	ret = check_fields(c, where, j, fields);
	if (ret)
		return ret;
	v = json_object_get(j, "cidr");
	if (!v)
		return fail(c, where, "missing \"cidr\"");
	strfmt(w, sizeof(w), "%s.cidr", where);
	ret = parse_prefix(c, w, v, out);
	if (ret)
		return ret;
	v = json_object_get(j, "proto");
	if (v) {
		strfmt(w, sizeof(w), "%s.proto", where);
		s = json_string_value(v);
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= 255) {
			out->proto = json_integer_value(v);
		} else if (!s) {
			return fail(c, w, "expected a protocol name or number, got %s",
				    json_kind(v));
		} else {
			for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
				if (!strcmp(s, protos[i].name))
					break;
			if (i == sizeof(protos) / sizeof(protos[0]))
				return fail(c, w, "unknown proto \"%s\" (tcp, udp, sctp, icmp, "
					    "icmpv6, any or a number 0-255)", s);
			out->proto = protos[i].proto;
		}
	}
	v = json_object_get(j, "ports");
	if (v) {
		strfmt(w, sizeof(w), "%s.ports", where);
		if (out->proto != IPPROTO_TCP && out->proto != IPPROTO_UDP &&
		    out->proto != IPPROTO_SCTP)
			return fail(c, w, "ports need \"proto\": \"tcp\", \"udp\" or \"sctp\"");
		ret = parse_ports(c, w, v, out);
	}
	return ret;
}

/* The rule list key ("allow" or "inbound") of a group at where into *out, *nr. */
static int parse_rules(struct ctx *c, const char *where, const char *key, json_t *arr,
		       struct wgx_prefix **out, unsigned int *nr)
{
	char w[192];
	json_t *v;
	size_t i;
	int bad = 0;

	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		strfmt(w, sizeof(w), "%s.%s[%zu]", where, key, i);
		if (parse_allow(c, w, v, &(*out)[*nr]))
			bad = -EINVAL;
		else
			(*nr)++;
	}
	return bad;
}

static int parse_group(struct ctx *c, const char *name, json_t *j, struct wgx_group *g)
{
	static const char *const fields[] = { "allow", "inbound", NULL };
	char where[160];
	json_t *allow, *inbound;
	int ret, bad = 0;

	strfmt(where, sizeof(where), "groups.%s", name);
	g->name = strdup(name);
	if (!g->name)
		return -ENOMEM;
	ret = check_name(c, where, "group name", name, strlen(name), WGX_GROUP_NAME_MAX);
	if (ret)
		return ret;
	if (!json_is_object(j))
		return fail(c, where, "expected an object {\"allow\": [...]}, got %s",
			    json_kind(j));
	ret = check_fields(c, where, j, fields);
	if (ret)
		return ret;
	allow = json_object_get(j, "allow");
	if (!json_is_array(allow))
		return fail(c, where, allow ? "\"allow\" must be an array" : "missing \"allow\"");
	inbound = json_object_get(j, "inbound");
	if (inbound && !json_is_array(inbound))
		return fail(c, where, "\"inbound\" must be an array");
	ret = parse_rules(c, where, "allow", allow, &g->allow, &g->nr_allow);
	if (ret == -ENOMEM)
		return ret;
	bad |= ret;
	if (inbound) {
		ret = parse_rules(c, where, "inbound", inbound, &g->inbound, &g->nr_inbound);
		if (ret == -ENOMEM)
			return ret;
		bad |= ret;
	}
	return bad;
}

/* ---- users ---- */

/* RFC 3339: 2027-01-01T00:00:00Z, optional fraction, Z or +hh:mm / -hh:mm. 0 or -EINVAL. */
static int parse_time(const char *s, time_t *out)
{
	struct tm tm = {}, chk;
	int y, mo, d, h, mi, sec, n = 0, oh, om, off = 0;
	const char *p;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -EINVAL;
	if (s[10] != 'T' && s[10] != 't')
		return -EINVAL;
	if (sscanf(s + 11, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8)
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
		if (p == s + 20)
			return -EINVAL;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
		   sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 && oh < 24 && om < 60) {
		off = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;	/* a leap second: the second before */
	t = timegm(&tm);
	if (t == (time_t)-1 || !gmtime_r(&t, &chk) || chk.tm_mday != d || chk.tm_mon != mo - 1)
		return -EINVAL;	/* 2027-02-30 */
	t -= off;
	if (t <= 0)
		return -EINVAL;
	*out = t;
	return 0;
}

static int parse_key(struct ctx *c, const char *where, json_t *j, uint8_t key[WG_KEY_LEN])
{
	const char *s = json_string_value(j);

	if (!s)
		return fail(c, where, "expected a base64 key string, got %s", json_kind(j));
	if (wgx_key_from_base64(key, s))
		return fail(c, where, "\"%s\": not a key (32 bytes in base64: 44 characters "
			    "ending in '=', as wg genkey prints)", s);
	return 0;
}

static void user_clear(struct wgx_user *u)
{
	unsigned int i;

	free(u->name);
	free(u->addresses);
	free(u->groups);
	if (u->group_names)
		for (i = 0; i < u->nr_groups; i++)
			free(u->group_names[i]);
	free(u->group_names);
	explicit_bzero(u, sizeof(*u));	/* the preshared key */
}

/* A tunnel address no wider than the limits (hole 4: 0.0.0.0/0 would take every address). */
static int check_width(struct ctx *c, const char *where, const struct wgx_prefix *a)
{
	unsigned int min = a->family == 4 ? c->lim.min_plen4 : c->lim.min_plen6;
	char s[64];

	if (a->plen >= min)
		return 0;
	wgx_prefix_format(a, s, sizeof(s));
	return fail(c, where, "address %s is wider than /%u (raise with --max-tunnel-prefix)", s,
		    min);
}

/*
 * One user object at where ("users[3]" or "" for the peer API). Groups resolved against
 * groups[] if given, else kept as names. Returns 0, -EINVAL (recorded) or -ENOMEM.
 */
static int parse_user(struct ctx *c, const char *where, json_t *j, const struct wgx_group *groups,
		      unsigned int nr_groups, bool keep_names, struct wgx_user *u)
{
	static const char *const fields[] = {
		"name", "public_key", "addresses", "groups", "expires", "disabled",
		"preshared_key", NULL,
	};
	char w[192];
	const char *dot = *where ? "." : "";
	json_t *v, *e;
	size_t i;
	unsigned int k;
	int ret, bad = 0;

#define W(fmt, ...) (strfmt(w, sizeof(w), "%s%s" fmt, where, dot, ##__VA_ARGS__), w)
	if (!json_is_object(j))
		return fail(c, *where ? where : "user", "expected a user object, got %s",
			    json_kind(j));
	ret = check_fields(c, *where ? where : "user", j, fields);
	if (ret)
		return ret;

	v = json_object_get(j, "name");
	if (!v)
		return fail(c, W("name"), "missing \"name\"");
	if (!json_is_string(v))
		return fail(c, W("name"), "expected a name string, got %s", json_kind(v));
	ret = check_name(c, W("name"), "name", json_string_value(v), json_string_length(v),
			 WGX_USER_NAME_MAX);
	if (ret)
		return ret;
	u->name = strdup(json_string_value(v));
	if (!u->name)
		return -ENOMEM;

	v = json_object_get(j, "public_key");
	if (!v)
		bad = fail(c, W("public_key"), "missing \"public_key\"");
	else if (parse_key(c, W("public_key"), v, u->public_key))
		bad = -EINVAL;

	v = json_object_get(j, "preshared_key");
	if (v && !json_is_null(v)) {
		if (parse_key(c, W("preshared_key"), v, u->psk))
			bad = -EINVAL;
		else
			u->has_psk = true;
	}

	v = json_object_get(j, "addresses");
	if (!json_is_array(v) || !json_array_size(v)) {
		bad = fail(c, W("addresses"), v ? "expected a non-empty array of prefixes" :
					      "missing \"addresses\" (the tunnel addresses)");
	} else {
		u->addresses = calloc(json_array_size(v), sizeof(*u->addresses));
		if (!u->addresses)
			return -ENOMEM;
		json_array_foreach(v, i, e) {
			if (parse_prefix(c, W("addresses[%zu]", i), e,
					 &u->addresses[u->nr_addresses]) ||
			    check_width(c, W("addresses[%zu]", i), &u->addresses[u->nr_addresses]))
				bad = -EINVAL;
			else
				u->nr_addresses++;
		}
	}

	v = json_object_get(j, "groups");
	if (v && !json_is_array(v)) {
		bad = fail(c, W("groups"), "expected an array of group names, got %s",
			   json_kind(v));
	} else if (v && json_array_size(v) > WGX_TUN_MAX_USER_GROUPS) {
		bad = fail(c, W("groups"), "%zu groups, more than %u (the tunnel's limit per user)",
			   json_array_size(v), WGX_TUN_MAX_USER_GROUPS);
	} else if (v && json_array_size(v)) {
		u->groups = calloc(json_array_size(v), sizeof(*u->groups));
		u->group_names = keep_names ? calloc(json_array_size(v), sizeof(char *)) : NULL;
		if (!u->groups || (keep_names && !u->group_names))
			return -ENOMEM;
		json_array_foreach(v, i, e) {
			const char *g = json_string_value(e);

			if (!g) {
				bad = fail(c, W("groups[%zu]", i), "expected a group name, got %s",
					   json_kind(e));
				continue;
			}
			if (check_name(c, W("groups[%zu]", i), "group name", g,
				       json_string_length(e), WGX_GROUP_NAME_MAX)) {
				bad = -EINVAL;
				continue;
			}
			for (k = 0; k < nr_groups; k++)
				if (!strcmp(groups[k].name, g))
					break;
			if (groups && k == nr_groups) {
				if (!c->nr)
					c->unknown_group = true;
				bad = fail(c, W("groups[%zu]", i), "unknown group \"%s\"", g);
				continue;
			}
			if (keep_names) {
				u->group_names[u->nr_groups] = strdup(g);
				if (!u->group_names[u->nr_groups])
					return -ENOMEM;
			}
			u->groups[u->nr_groups++] = groups ? k : 0;
		}
		if (!groups) {
			free(u->groups);	/* names only, resolved late */
			u->groups = NULL;
		}
	}

	v = json_object_get(j, "expires");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v))
			bad = fail(c, W("expires"), "expected an RFC 3339 time string like "
				   "\"2027-01-01T00:00:00Z\", got %s", json_kind(v));
		else if (parse_time(json_string_value(v), &u->expires))
			bad = fail(c, W("expires"), "\"%s\": not an RFC 3339 time like "
				   "\"2027-01-01T00:00:00Z\"", json_string_value(v));
	}

	v = json_object_get(j, "disabled");
	if (v && !json_is_boolean(v))
		bad = fail(c, W("disabled"), "expected true or false, got %s", json_kind(v));
	u->disabled = json_is_true(v);
#undef W
	return bad;
}

const char *wgx_user_denied(const struct wgx_user *u, time_t now)
{
	if (u->disabled)
		return "disabled";
	if (u->expires && now >= u->expires)
		return "expired";
	return NULL;
}

/* ---- the public key index ---- */

struct key_index {
	uint32_t mask;
	uint32_t *slots;	/* user index + 1; 0 = empty */
};

static uint32_t key_hash(const uint8_t key[WG_KEY_LEN])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	h *= 0x9e3779b97f4a7c15ULL;	/* keys from a file may be anything: mix anyway */
	return h >> 32;
}

/* Inserts user i; returns the index of the user already holding the key, or -1. */
static long index_insert(struct key_index *x, const struct wgx_user *users, unsigned int i)
{
	uint32_t s = key_hash(users[i].public_key) & x->mask;

	while (x->slots[s]) {
		if (!memcmp(users[x->slots[s] - 1].public_key, users[i].public_key, WG_KEY_LEN))
			return x->slots[s] - 1;
		s = (s + 1) & x->mask;
	}
	x->slots[s] = i + 1;
	return -1;
}

const struct wgx_user *wgx_policy_find(const struct wgx_policy *p,
				       const uint8_t public_key[WG_KEY_LEN])
{
	const struct key_index *x;
	uint32_t s;

	if (!p || !p->index)
		return NULL;
	x = p->index;
	for (s = key_hash(public_key) & x->mask; x->slots[s]; s = (s + 1) & x->mask)
		if (!memcmp(p->users[x->slots[s] - 1].public_key, public_key, WG_KEY_LEN))
			return &p->users[x->slots[s] - 1];
	return NULL;
}

/* ---- checks across users ---- */

struct addr_ref {
	const struct wgx_prefix *p;
	unsigned int user, addr;
};

static int addr_cmp(const void *a, const void *b)
{
	const struct wgx_prefix *x = ((const struct addr_ref *)a)->p;
	const struct wgx_prefix *y = ((const struct addr_ref *)b)->p;
	int r;

	if (x->family != y->family)
		return x->family - y->family;
	r = memcmp(x->addr, y->addr, 16);
	if (r)
		return r;
	return x->plen - y->plen;	/* the wider first: a container before what it holds */
}

static bool prefix_contains(const struct wgx_prefix *outer, const struct wgx_prefix *inner)
{
	unsigned int i, bits;

	if (outer->family != inner->family || outer->plen > inner->plen)
		return false;
	for (i = 0; i < 16; i++) {
		bits = outer->plen > 8 * i ? outer->plen - 8 * i : 0;
		if (bits == 0)
			break;
		if ((outer->addr[i] ^ inner->addr[i]) & (bits >= 8 ? 0xff : 0xff00 >> bits))
			return false;
	}
	return true;
}

bool wgx_prefix_overlap(const struct wgx_prefix *a, const struct wgx_prefix *b)
{
	return prefix_contains(a, b) || prefix_contains(b, a);
}

static int report_overlap(struct ctx *c, const struct wgx_policy *p, const struct addr_ref *a,
			  const struct addr_ref *b)
{
	const struct addr_ref *later = a, *earlier = b;
	char where[64], pa[64], pb[64];

	if (b->user > a->user || (b->user == a->user && b->addr > a->addr)) {
		later = b;
		earlier = a;
	}
	wgx_prefix_format(later->p, pa, sizeof(pa));
	wgx_prefix_format(earlier->p, pb, sizeof(pb));
	strfmt(where, sizeof(where), "users[%u].addresses[%u]", later->user, later->addr);
	if (later->user == earlier->user)
		return fail(c, where, "%s: overlaps %s, addresses[%u] of the same user", pa, pb,
			    earlier->addr);
	if (!strcmp(pa, pb))
		return fail(c, where, "%s: also given to users[%u] (%s)", pa, earlier->user,
			    p->users[earlier->user].name);
	return fail(c, where, "%s: overlaps %s of users[%u] (%s)", pa, pb, earlier->user,
		    p->users[earlier->user].name);
}

/* The policy's tunnel addresses, sorted by addr_cmp, none overlapping another. */
struct addr_index {
	struct addr_ref *refs;
	size_t n;
};

/*
 * Tunnel addresses route to one peer each: no address, or part of one, given twice. O(n log n).
 * Without overlaps and with index, the sorted addresses are kept there (else freed).
 */
static int check_overlaps(struct ctx *c, const struct wgx_policy *p, struct addr_index *index)
{
	struct addr_ref *refs, **stack;
	size_t n = 0, top = 0, i;
	unsigned int u, a;
	int bad = 0;

	for (u = 0; u < p->nr_users; u++)
		n += p->users[u].nr_addresses;
	refs = calloc(n + 1, sizeof(*refs));
	stack = calloc(n + 1, sizeof(*stack));
	if (!refs || !stack) {
		free(refs);
		free(stack);
		return -ENOMEM;
	}
	n = 0;
	for (u = 0; u < p->nr_users; u++)
		for (a = 0; a < p->users[u].nr_addresses; a++)
			refs[n++] = (struct addr_ref){ &p->users[u].addresses[a], u, a };
	qsort(refs, n, sizeof(*refs), addr_cmp);
	/* Sorted, a prefix's containers come before it: keep the chain of open ones. */
	for (i = 0; i < n; i++) {
		while (top && !prefix_contains(stack[top - 1]->p, refs[i].p))
			top--;
		if (top)
			bad = report_overlap(c, p, stack[top - 1], &refs[i]);
		stack[top++] = &refs[i];
	}
	free(stack);
	if (!bad && index) {
		index->refs = refs;
		index->n = n;
	} else {
		free(refs);
	}
	return bad;
}

static bool is_except(const struct wgx_user *u, const uint8_t *key)
{
	return key && !memcmp(u->public_key, key, WG_KEY_LEN);
}

const struct wgx_user *wgx_policy_addr_owner(const struct wgx_policy *p,
					     const struct wgx_prefix *a, const uint8_t *except_key)
{
	const struct addr_index *x = p->addr_index;
	struct addr_ref key = { .p = a };
	size_t lo = 0, hi, mid;
	unsigned int u, i;

	if (!x) {
		/* A policy not from the load functions: no index, look at every address. */
		for (u = 0; u < p->nr_users; u++)
			for (i = 0; i < p->users[u].nr_addresses; i++)
				if (wgx_prefix_overlap(&p->users[u].addresses[i], a) &&
				    !is_except(&p->users[u], except_key))
					return &p->users[u];
		return NULL;
	}
	/* lo: the first address not before a. */
	for (hi = x->n; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (addr_cmp(&x->refs[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* None overlap: only the one just before can contain a ... */
	if (lo && wgx_prefix_overlap(x->refs[lo - 1].p, a) &&
	    !is_except(&p->users[x->refs[lo - 1].user], except_key))
		return &p->users[x->refs[lo - 1].user];
	/* ... and those a contains follow one another from lo. */
	for (; lo < x->n && wgx_prefix_overlap(x->refs[lo].p, a); lo++)
		if (!is_except(&p->users[x->refs[lo].user], except_key))
			return &p->users[x->refs[lo].user];
	return NULL;
}

static int name_cmp(const void *a, const void *b)
{
	const struct wgx_user *x = *(const struct wgx_user *const *)a;
	const struct wgx_user *y = *(const struct wgx_user *const *)b;
	int r = strcmp(x->name, y->name);

	return r ? r : (x < y ? -1 : 1);
}

static int check_names(struct ctx *c, const struct wgx_policy *p)
{
	const struct wgx_user **by_name;
	char where[64];
	unsigned int i;
	int bad = 0;

	if (p->nr_users < 2)
		return 0;
	by_name = calloc(p->nr_users, sizeof(*by_name));
	if (!by_name)
		return -ENOMEM;
	for (i = 0; i < p->nr_users; i++)
		by_name[i] = &p->users[i];
	qsort(by_name, p->nr_users, sizeof(*by_name), name_cmp);
	for (i = 1; i < p->nr_users; i++) {
		if (strcmp(by_name[i]->name, by_name[i - 1]->name))
			continue;
		strfmt(where, sizeof(where), "users[%td].name", by_name[i] - p->users);
		bad = fail(c, where, "\"%s\": also the name of users[%td]", by_name[i]->name,
			   by_name[i - 1] - p->users);
	}
	free(by_name);
	return bad;
}

/* ---- the policy ---- */

void wgx_policy_free(struct wgx_policy *p)
{
	struct key_index *x;
	unsigned int i;

	if (!p)
		return;
	for (i = 0; i < p->nr_groups; i++) {
		free(p->groups[i].name);
		free(p->groups[i].allow);
		free(p->groups[i].inbound);
	}
	free(p->groups);
	for (i = 0; i < p->nr_users; i++)
		user_clear(&p->users[i]);
	free(p->users);
	x = p->index;
	if (x)
		free(x->slots);
	free(x);
	if (p->addr_index)
		free(((struct addr_index *)p->addr_index)->refs);
	free(p->addr_index);
	free(p);
}

static int parse_policy(struct ctx *c, json_t *root, struct wgx_policy *p)
{
	static const char *const fields[] = { "groups", "users", NULL };
	json_t *groups, *users, *v;
	struct key_index *x;
	const char *name;
	char where[64];
	size_t i, size;
	long dup;
	int ret, bad = 0;

	if (!json_is_object(root))
		return fail(c, "top level", "expected an object {\"groups\": ..., \"users\": ...}, "
			    "got %s", json_kind(root));
	ret = check_fields(c, "top level", root, fields);
	if (ret)
		return ret;
	groups = json_object_get(root, "groups");
	users = json_object_get(root, "users");
	if (groups && !json_is_object(groups))
		return fail(c, "groups", "expected an object of named groups, got %s",
			    json_kind(groups));
	if (users && !json_is_array(users))
		return fail(c, "users", "expected an array of users, got %s", json_kind(users));

	p->groups = calloc(json_object_size(groups) + 1, sizeof(*p->groups));
	if (!p->groups)
		return -ENOMEM;
	json_object_foreach(groups, name, v) {
		ret = parse_group(c, name, v, &p->groups[p->nr_groups++]);
		if (ret == -ENOMEM)
			return ret;
		bad |= ret;
	}

	p->users = calloc(json_array_size(users) + 1, sizeof(*p->users));
	if (!p->users)
		return -ENOMEM;
	json_array_foreach(users, i, v) {
		strfmt(where, sizeof(where), "users[%zu]", i);
		ret = parse_user(c, where, v, p->groups, p->nr_groups, false,
				 &p->users[p->nr_users]);
		if (ret == -ENOMEM)
			return ret;
		/* Keep even a bad user, so later problems name the right index. */
		p->nr_users++;
		bad |= ret;
	}
	if (bad)
		return -EINVAL;

	for (size = 16; size < 2 * (size_t)p->nr_users; size <<= 1)
		;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	p->index = x;
	x->mask = size - 1;
	x->slots = calloc(size, sizeof(*x->slots));
	if (!x->slots)
		return -ENOMEM;
	for (i = 0; i < p->nr_users; i++) {
		char b64[45];

		dup = index_insert(x, p->users, i);
		if (dup < 0)
			continue;
		wgx_key_to_base64(b64, p->users[i].public_key);
		strfmt(where, sizeof(where), "users[%zu].public_key", i);
		bad = fail(c, where, "%s: also the key of users[%ld] (%s)", b64, dup,
			   p->users[dup].name);
	}
	ret = check_names(c, p);
	if (ret == -ENOMEM)
		return ret;
	bad |= ret;
	p->addr_index = calloc(1, sizeof(struct addr_index));
	if (!p->addr_index)
		return -ENOMEM;
	ret = check_overlaps(c, p, p->addr_index);
	if (ret == -ENOMEM)
		return ret;
	return bad | ret ? -EINVAL : 0;
}

/* Parse JSON text; on a syntax error report line and column and return NULL (*ret set). */
static json_t *load_json(struct ctx *c, const char *json, int *ret)
{
	json_error_t jerr;
	char where[64];
	json_t *root;

	*ret = 0;
	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		strfmt(where, sizeof(where), "line %d, column %d", jerr.line, jerr.column);
		*ret = fail(c, where, "%s", jerr.text);
	}
	return root;
}

int wgx_policy_load_string_opts(const char *json, const struct wgx_addr_limits *lim,
				struct wgx_policy **out, struct wgx_policy_err *errs,
				unsigned int max_errs, unsigned int *nr_errs)
{
	struct ctx c = { errs, max_errs, 0, lim ? *lim : WGX_ADDR_LIMITS_DEFAULT };
	struct wgx_policy *p;
	json_t *root;
	int ret;

	*out = NULL;
	root = load_json(&c, json, &ret);
	if (root) {
		p = calloc(1, sizeof(*p));
		ret = p ? parse_policy(&c, root, p) : -ENOMEM;
		json_decref(root);
		if (ret)
			wgx_policy_free(p);
		else
			*out = p;
	}
	if (nr_errs)
		*nr_errs = c.nr;
	return ret;
}

int wgx_policy_load_string_errs(const char *json, struct wgx_policy **out,
				struct wgx_policy_err *errs, unsigned int max_errs,
				unsigned int *nr_errs)
{
	return wgx_policy_load_string_opts(json, NULL, out, errs, max_errs, nr_errs);
}

int wgx_policy_load_string(const char *json, struct wgx_policy **out, struct wgx_policy_err *err)
{
	return wgx_policy_load_string_opts(json, NULL, out, err, 1, NULL);
}

int wgx_policy_load_file_opts(const char *path, const struct wgx_addr_limits *lim,
			      struct wgx_policy **out, struct wgx_policy_err *errs,
			      unsigned int max_errs, unsigned int *nr_errs)
{
	struct ctx c = { errs, max_errs, 0 };
	size_t got = 0, cap = 0;
	char *buf = NULL, *nb;
	struct stat st;
	ssize_t n;
	int fd, ret = 0;

	*out = NULL;
	if (nr_errs)
		*nr_errs = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!fstat(fd, &st) && S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	for (;;) {
		if (cap - got < 4096) {
			/* The file holds preshared keys: no realloc. */
			nb = wgx_realloc_wipe(buf, cap ? cap + 1 : 0, (cap ? 2 * cap : 65536) + 1);
			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
			cap = cap ? 2 * cap : 65536;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if (!ret && memchr(buf, '\0', got)) {
		ret = fail(&c, "file", "contains a NUL byte: not a JSON text");
		if (nr_errs)
			*nr_errs = c.nr;
	} else if (!ret) {
		buf[got] = '\0';
		ret = wgx_policy_load_string_opts(buf, lim, out, errs, max_errs, nr_errs);
	}
	wgx_free_wipe(buf, cap ? cap + 1 : 0);
	return ret;
}

int wgx_policy_load_file_errs(const char *path, struct wgx_policy **out,
			      struct wgx_policy_err *errs, unsigned int max_errs,
			      unsigned int *nr_errs)
{
	return wgx_policy_load_file_opts(path, NULL, out, errs, max_errs, nr_errs);
}

int wgx_policy_load_file(const char *path, struct wgx_policy **out, struct wgx_policy_err *err)
{
	return wgx_policy_load_file_opts(path, NULL, out, err, 1, NULL);
}

/* ---- one user, from the peer API ---- */

void wgx_user_free(struct wgx_user *u)
{
	if (!u)
		return;
	user_clear(u);
	free(u);
}

int wgx_user_from_json(const char *json, const struct wgx_policy *p, struct wgx_user **out,
		       struct wgx_policy_err *err)
{
	return wgx_user_from_json_opts(json, p, NULL, out, err);
}

static const struct wgx_group no_groups[1];

int wgx_user_from_json_opts(const char *json, const struct wgx_policy *p,
			    const struct wgx_addr_limits *lim, struct wgx_user **out,
			    struct wgx_policy_err *err)
{
	struct ctx c = { err, 1, 0, lim ? *lim : WGX_ADDR_LIMITS_DEFAULT };
	struct wgx_user *u;
	json_t *root;
	int ret;

	*out = NULL;
	root = load_json(&c, json, &ret);
	if (!root)
		return ret;
	u = calloc(1, sizeof(*u));
	if (!u) {
		json_decref(root);
		return -ENOMEM;
	}
	/* a policy without groups still resolves: every group named is then unknown */
	ret = parse_user(&c, "", root, p ? (p->groups ? p->groups : no_groups) : NULL,
			 p ? p->nr_groups : 0, true, u);
	json_decref(root);
	if (!ret && u->nr_addresses > 1) {
		/* the same overlap rule as across users, within this one */
		struct wgx_policy one = { .users = u, .nr_users = 1 };

		ret = check_overlaps(&c, &one, NULL);
		if (ret == -EINVAL && !strncmp(err->where, "users[0].", 9))
			memmove(err->where, err->where + 9, strlen(err->where + 9) + 1);
	}
	if (ret) {
		wgx_user_free(u);
		/* only when it is the one thing wrong: else a malformed answer */
		return ret == -EINVAL && c.unknown_group && c.nr == 1 ? -ENOENT : ret;
	}
	*out = u;
	return 0;
}

int wgx_policy_groups_from_json(const char *json, const struct wgx_addr_limits *lim,
				struct wgx_policy **out, struct wgx_policy_err *err)
{
	struct ctx c = { err, 1, 0, lim ? *lim : WGX_ADDR_LIMITS_DEFAULT };
	struct wgx_policy *p;
	json_t *root;
	int ret;

	*out = NULL;
	root = load_json(&c, json, &ret);
	if (!root)
		return ret;
	if (json_is_object(root) && json_object_get(root, "users")) {
		/* users come one by one, each answer about its own key */
		json_decref(root);
		return fail(&c, "users", "the groups' answer holds groups only");
	}
	if (json_is_object(root) && !json_object_get(root, "groups")) {
		json_decref(root);
		return fail(&c, "top level", "expected {\"groups\": {...}}: no \"groups\"");
	}
	p = calloc(1, sizeof(*p));
	ret = p ? parse_policy(&c, root, p) : -ENOMEM;
	json_decref(root);
	if (ret) {
		wgx_policy_free(p);
		return ret;
	}
	*out = p;
	return 0;
}
