// gzip/zlib Content-Encoding decoding from any bytes, under output limits,
// in one go (gunzip) and a piece at a time in growing room (GzipDecoder, as
// the HTTP client decodes a body within its memory budget). Invariants: the
// output passes the limit by one byte at most (how "too large" is told from
// "exactly at the limit"), a limit changes the outcome only by cutting what
// is too large, and decoding piece by piece gives what one go gives.
#include <algorithm>
#include <string>

#include "check.hpp"
#include "kettle/net/gzip.hpp"

using namespace kettle;

namespace {

// Decodes as the HTTP client does: room doubling from a small step up to one
// byte past the limit.
net::GunzipStatus decode_growing(std::string_view compressed, std::size_t limit, std::string& out) {
  net::GzipDecoder decoder(compressed);
  const std::size_t until = limit + 1;
  for (std::size_t room = std::min<std::size_t>(16, until);; room = std::min(until, 2 * room)) {
    const auto status = decoder.decode(out, room);
    FUZZ_CHECK(out.size() <= room);
    if (out.size() > limit) return net::GunzipStatus::too_large;
    if (status == net::GzipDecoder::Status::done) return net::GunzipStatus::ok;
    if (status == net::GzipDecoder::Status::corrupt) return net::GunzipStatus::corrupt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view compressed = fuzz::as_text(data, size);
  constexpr std::size_t kBig = std::size_t{64} << 20;
  std::string full;
  const net::GunzipStatus full_status = net::gunzip(compressed, kBig, full);
  FUZZ_CHECK(full.size() <= kBig + 1);

  for (const std::size_t limit : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{70'000}}) {
    std::string out;
    const net::GunzipStatus status = net::gunzip(compressed, limit, out);
    FUZZ_CHECK(out.size() <= limit + 1);
    FUZZ_CHECK((status == net::GunzipStatus::too_large) == (out.size() == limit + 1));
    if (full_status == net::GunzipStatus::ok) {
      if (full.size() <= limit) {
        FUZZ_CHECK(status == net::GunzipStatus::ok && out == full);
      } else {
        FUZZ_CHECK(status == net::GunzipStatus::too_large && full.starts_with(out));
      }
    }
    if (status == net::GunzipStatus::ok) FUZZ_CHECK(full_status == net::GunzipStatus::ok && out == full);

    std::string pieces;
    FUZZ_CHECK(decode_growing(compressed, limit, pieces) == status);
    FUZZ_CHECK(pieces == out);
  }
  return 0;
}
