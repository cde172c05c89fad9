// Fuzz target for hamba's TLS record opener (net/tls_records.h), each AEAD of TLS 1.3 and 1.2,
// chosen by the first byte. The second byte picks the mode:
//   - even: the rest is what a client sent. Records are opened in turn until one is partial
//     or refused (the session would be over); an opened record's plaintext lies inside it and
//     is at most 16 KiB.
//   - odd: the rest is plaintext, cut into records by its own length bytes, sealed by a twin
//     with the same keys, and maybe one bit flipped (the third byte): a sealed record opens to
//     the same type and bytes, a flipped one never opens.
#include "fuzz_check.h"
#include "net/tls_records.h"

#include <cstdint>
#include <cstring>
#include <vector>

using namespace hamba::net;
using fuzz::check;

namespace {

std::unique_ptr<TlsRecords> make(uint8_t choice) {
  static const uint8_t secret[48] = {7}, key[32] = {9}, iv[12] = {11};
  auto aead = static_cast<TlsAead>(choice % 3);
  bool tls13 = (choice / 3) % 2 == 0;
  size_t secret_len = aead == TlsAead::aes_256_gcm ? 48 : 32;
  size_t key_len = aead == TlsAead::aes_128_gcm ? 16 : 32;
  size_t iv_len = aead == TlsAead::chacha20_poly1305 ? 12 : 4;
  TlsRecords::Keys k{.secret = {secret, secret_len}, .key = {key, key_len}, .iv = {iv, iv_len}};
  return TlsRecords::make(aead, tls13 ? 0x0304 : 0x0303, k, k);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3)
    return 0;
  auto reader = make(data[0]);
  check(reader != nullptr);
  bool round_trip = data[1] % 2 == 1;
  uint8_t flip = data[2];
  std::vector<uint8_t> in(data + 3, data + size);
  if (!round_trip) {
    size_t pos = 0;
    while (pos < in.size()) {
      long n = reader->record_size(in.data() + pos, in.size() - pos);
      check(n == 0 || n == -1 || n >= long(kTlsHeader));
      if (n <= 0 || size_t(n) > in.size() - pos)
        break;
      TlsRecords::Opened o;
      uint8_t* record = in.data() + pos;
      if (!reader->open(record, size_t(n), &o))
        break;
      check(o.len <= kTlsMaxPlaintext);
      check(o.data >= record + kTlsHeader && o.data + o.len <= record + n);
      pos += size_t(n);
    }
    return 0;
  }
  auto writer = make(data[0]);
  std::vector<uint8_t> record(kTlsMaxPlaintext + kTlsSealOverhead);
  size_t pos = 0;
  while (pos < in.size()) {
    size_t len = std::min<size_t>(in[pos] * 64u, in.size() - pos - 1);
    const uint8_t* plain = in.data() + pos + 1;
    uint8_t type = in[pos] % 2 ? kTlsHandshake : kTlsApplicationData;
    pos += 1 + len;
    size_t n = writer->seal(type, plain, len, record.data());
    check(n >= kTlsHeader + len);
    bool flipped = flip != 0 && pos >= in.size(); // the last record only
    if (flipped)
      record[flip % n] ^= static_cast<uint8_t>(1u << (flip % 8));
    long want = reader->record_size(record.data(), n);
    TlsRecords::Opened o;
    bool opened = want == long(n) && reader->open(record.data(), n, &o);
    if (flipped) {
      check(!opened);
      break;
    }
    check(opened);
    check(o.type == type && o.len == len && std::memcmp(o.data, plain, len) == 0);
  }
  return 0;
}
