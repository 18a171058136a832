// gzip/zlib Content-Encoding decoding from any bytes, under output limits.
// Invariants: the output never passes the limit, and a limit changes the
// outcome only by cutting what is too large.
#include <string>

#include "check.hpp"
#include "kettle/net/gzip.hpp"

using namespace kettle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view compressed = fuzz::as_text(data, size);
  constexpr std::size_t kBig = std::size_t{64} << 20;
  std::string full;
  const net::GunzipStatus full_status = net::gunzip(compressed, kBig, full);
  FUZZ_CHECK(full.size() <= kBig);

  for (const std::size_t limit : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{70'000}}) {
    std::string out;
    const net::GunzipStatus status = net::gunzip(compressed, limit, out);
    FUZZ_CHECK(out.size() <= limit);
    if (full_status == net::GunzipStatus::ok) {
      if (full.size() <= limit) {
        FUZZ_CHECK(status == net::GunzipStatus::ok && out == full);
      } else {
        FUZZ_CHECK(status == net::GunzipStatus::too_large);
      }
    }
    if (status == net::GunzipStatus::ok) FUZZ_CHECK(full_status == net::GunzipStatus::ok && out == full);
  }
  return 0;
}
