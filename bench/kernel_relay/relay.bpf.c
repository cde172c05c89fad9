// bench_kernel_relay's stream-verdict programs (sockmap.h loads them; kernel_relay.h uses them).
//
// Every socket of a relayed pair is in `sockets` under its socket cookie, and in `peers` with
// its partner's cookie and the bytes redirected from it so far. Each skb a member socket
// receives goes out of its partner's send queue (an egress redirect: the kernel queues it on
// the partner's psock and a kernel worker sends it). The count is what user space compares with
// the partner's acknowledged and queued bytes before it shuts the partner's write half: a FIN is
// never forwarded here, since one could overtake data still held by the worker.
//
// relay_verdict_uncounted is the same without the count, for the profile's A/B only (--no-count:
// user space then cannot know when the bytes have left, and passes a FIN on unordered).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct peer {
  __u64 cookie; // the partner's socket cookie: its key in `sockets`
  __u64 bytes;  // bytes redirected from this socket to the partner
};

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, __u64);
} sockets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct peer);
} peers SEC(".maps");

SEC("sk_skb/stream_verdict")
int relay_verdict(struct __sk_buff* skb) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  struct peer* p = bpf_map_lookup_elem(&peers, &cookie);
  if (!p)
    return SK_PASS; // not (or no longer) paired: user space reads it
  // A zero-length skb (a pure FIN) redirected would put EPIPE on the partner; user space
  // passes the FIN on itself.
  if (skb->len == 0)
    return SK_DROP;
  __sync_fetch_and_add(&p->bytes, skb->len);
  return bpf_sk_redirect_hash(skb, &sockets, &p->cookie, 0);
}

SEC("sk_skb/stream_verdict")
int relay_verdict_uncounted(struct __sk_buff* skb) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  struct peer* p = bpf_map_lookup_elem(&peers, &cookie);
  if (!p)
    return SK_PASS;
  if (skb->len == 0)
    return SK_DROP;
  return bpf_sk_redirect_hash(skb, &sockets, &p->cookie, 0);
}

char LICENSE[] SEC("license") = "GPL";
