// The load generator of bench/run's TLS handshake lines: threads, each a blocking loop of
// connect, TLS handshake, one `Connection: close` HTTP request, read to the end, close.
//
//     bench_tls_client HOST PORT SNI PATH full|resumed THREADS SECONDS
//
// full: every connection a full handshake (no session offered). resumed: each thread offers the
// session (TLS 1.3 ticket) its last connection got, so every connection after a thread's first
// is a resumption when the server accepts it. Prints one line:
//
//     requests N seconds S rate R resumed K errors E
//
// wrk reuses its connections (keep-alive) and, with `Connection: close`, offers the last session
// again, so it measures neither kind alone; `openssl s_time` is one connection at a time. Bench
// code: simple on purpose (no certificate check, a thread per connection).
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

struct Totals {
  std::atomic<long> requests{0}, resumed{0}, errors{0};
};

struct Target {
  sockaddr_in addr{};
  std::string sni;
  std::string request;
  bool resume = false;
};

// One connection: true when the answer was a 200 read to its end.
bool one_request(SSL_CTX* ctx, const Target& t, SSL_SESSION** session, bool* reused) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return false;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), sizeof t.addr) != 0) {
    close(fd);
    return false;
  }
  SSL* ssl = SSL_new(ctx);
  bool ok = false;
  if (ssl) {
    SSL_set_fd(ssl, fd);
    // (SSL_set_tlsext_host_name, without the macro's C cast.)
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(t.sni.c_str()));
    if (t.resume && *session)
      SSL_set_session(ssl, *session);
    if (SSL_connect(ssl) == 1 &&
        SSL_write(ssl, t.request.data(), static_cast<int>(t.request.size())) ==
            static_cast<int>(t.request.size())) {
      char buf[16384];
      std::string head;
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
        if (head.size() < 16)
          head.append(buf, static_cast<size_t>(n));
      int err = SSL_get_error(ssl, n);
      // The end: a close_notify, or the server's FIN without one (as many send).
      ok = head.starts_with("HTTP/1.1 200") &&
           (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL);
      *reused = SSL_session_reused(ssl) == 1;
      // Done as a clean close: SSL_free would otherwise mark the session not resumable.
      if (ok)
        SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
      if (t.resume) // the ticket came with the answer
        if (SSL_SESSION* s = SSL_get1_session(ssl)) {
          SSL_SESSION_free(*session);
          *session = s;
        }
    }
    SSL_free(ssl);
  }
  ERR_clear_error();
  close(fd);
  return ok;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s HOST PORT SNI PATH full|resumed THREADS SECONDS\n", argv[0]);
    return 2;
  }
  Target t;
  t.addr.sin_family = AF_INET;
  t.addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &t.addr.sin_addr) != 1) {
    std::fprintf(stderr, "bench_tls_client: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  t.sni = argv[3];
  t.request = std::string("GET ") + argv[4] + " HTTP/1.1\r\nHost: " + t.sni +
              "\r\nConnection: close\r\n\r\n";
  std::string mode = argv[5];
  if (mode != "full" && mode != "resumed") {
    std::fprintf(stderr, "bench_tls_client: mode is full or resumed, not %s\n", argv[5]);
    return 2;
  }
  t.resume = mode == "resumed";
  int threads = std::atoi(argv[6]);
  double seconds = std::atof(argv[7]);
  if (threads < 1 || threads > 1000 || seconds <= 0) {
    std::fprintf(stderr, "bench_tls_client: 1 to 1000 threads, a positive duration\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN); // a server that closed first is an error counted, not a death
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  // Sessions are kept by hand, one per thread; none in the context's cache.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  Totals totals;
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i)
    pool.emplace_back([&] {
      SSL_SESSION* session = nullptr;
      while (std::chrono::steady_clock::now() < end) {
        bool reused = false;
        if (one_request(ctx, t, &session, &reused)) {
          totals.requests.fetch_add(1, std::memory_order_relaxed);
          if (reused)
            totals.resumed.fetch_add(1, std::memory_order_relaxed);
        } else {
          totals.errors.fetch_add(1, std::memory_order_relaxed);
        }
      }
      SSL_SESSION_free(session);
    });
  for (auto& th : pool)
    th.join();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("requests %ld seconds %.3f rate %.1f resumed %ld errors %ld\n",
              totals.requests.load(), took, static_cast<double>(totals.requests.load()) / took,
              totals.resumed.load(), totals.errors.load());
  SSL_CTX_free(ctx);
  return 0;
}
