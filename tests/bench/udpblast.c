// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * udpblast: a UDP flood for tests/bench/fwd_pps.sh. IPv4 UDP packets built once per flow and
 * sent with sendmmsg on a raw socket (IPPROTO_RAW: the header is ours, so the source may be
 * any address, a user's tunnel address, without configuring it), the flows in turn, for a
 * fixed time. The kernel fills the IP checksum; the UDP checksum is 0 (none, legal in IPv4).
 *
 *   udpblast FLOWS SECONDS [PAYLOAD] [BATCH]
 *
 * FLOWS: a file of lines "SRC DST SPORT DPORT". PAYLOAD: UDP payload bytes (default 18: a
 * 60-byte frame with its Ethernet header), BATCH: messages per sendmmsg (default 64).
 * Prints one line "sent=N errors=E seconds=S cpu=C": what the socket accepted, what it refused
 * (ENOBUFS and the like, not retried), the time it took and the CPU time the process was
 * charged (user + system, which includes the softirq work done in its context: on a veth the
 * receiving side's processing, here the whole forwarding path).
 * Exit 0, 1 on a setup failure (one line on stderr), 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLOWS	4096
#define MAX_BATCH	1024
#define MAX_PAYLOAD	1400

struct flow {
	struct sockaddr_in dst;
	unsigned char pkt[sizeof(struct iphdr) + sizeof(struct udphdr) + MAX_PAYLOAD];
	size_t len;
};

static struct flow flows[MAX_FLOWS];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int read_flows(const char *file, size_t payload)
{
	char src[64], dst[64];
	unsigned int sport, dport;
	int n = 0, r;
	FILE *f;

	f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "udpblast: %s: %s\n", file, strerror(errno));
		exit(1);
	}
	while ((r = fscanf(f, "%63s %63s %u %u", src, dst, &sport, &dport)) == 4) {
		struct flow *fl = &flows[n];
		struct iphdr *ip = (struct iphdr *)fl->pkt;
		struct udphdr *udp = (struct udphdr *)(ip + 1);

		if (n == MAX_FLOWS) {
			fprintf(stderr, "udpblast: %s: more than %d flows\n", file, MAX_FLOWS);
			exit(1);
		}
		memset(fl, 0, sizeof(*fl));
		fl->len = sizeof(*ip) + sizeof(*udp) + payload;
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons(fl->len);
		if (inet_pton(AF_INET, src, &ip->saddr) != 1 ||
		    inet_pton(AF_INET, dst, &ip->daddr) != 1 || sport > 65535 || dport > 65535) {
			fprintf(stderr, "udpblast: %s: bad flow %d: %s %s %u %u\n", file, n + 1,
				src, dst, sport, dport);
			exit(1);
		}
		udp->source = htons(sport);
		udp->dest = htons(dport);
		udp->len = htons(sizeof(*udp) + payload);
		memset(udp + 1, 0x5a, payload);
		fl->dst.sin_family = AF_INET;
		fl->dst.sin_addr.s_addr = ip->daddr;
		n++;
	}
	if (r != EOF || !n) {
		fprintf(stderr, "udpblast: %s: no flows or a malformed line after flow %d\n", file, n);
		exit(1);
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	unsigned long long sent = 0, errors = 0;
	double secs, start, end, t, cpu0;
	size_t payload = 18;
	int nflows, batch = 64, fd, i, next = 0;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: udpblast FLOWS SECONDS [PAYLOAD] [BATCH]\n");
		return 2;
	}
	secs = atof(argv[2]);
	if (argc > 3)
		payload = strtoul(argv[3], NULL, 10);
	if (argc > 4)
		batch = atoi(argv[4]);
	if (secs <= 0 || payload > MAX_PAYLOAD || batch < 1 || batch > MAX_BATCH) {
		fprintf(stderr, "udpblast: SECONDS > 0, PAYLOAD <= %d, 1 <= BATCH <= %d\n",
			MAX_PAYLOAD, MAX_BATCH);
		return 2;
	}
	nflows = read_flows(argv[1], payload);

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("udpblast: socket(AF_INET, SOCK_RAW, IPPROTO_RAW)");
		return 1;
	}

	cpu0 = cpu();
	start = now();
	end = start + secs;
	do {
		int n;

		/* the next BATCH flows in turn, so that every flow gets its share */
		for (i = 0; i < batch; i++) {
			struct flow *fl = &flows[next];

			iov[i].iov_base = fl->pkt;
			iov[i].iov_len = fl->len;
			msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &fl->dst, .msg_namelen = sizeof(fl->dst),
				.msg_iov = &iov[i], .msg_iovlen = 1,
			};
			if (++next == nflows)
				next = 0;
		}
		n = sendmmsg(fd, msgs, batch, 0);
		if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED &&
		    errno != EHOSTUNREACH && errno != ENETUNREACH && errno != EPERM) {
			perror("udpblast: sendmmsg");
			return 1;
		}
		if (n > 0)
			sent += n;
		/* a refused message ends the batch: count it and go on past it */
		if (n < batch)
			errors++;
		t = now();
	} while (t < end);
	printf("sent=%llu errors=%llu seconds=%.6f cpu=%.6f\n", sent, errors, t - start,
	       cpu() - cpu0);
	return 0;
}
