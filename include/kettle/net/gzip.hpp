// Decoding of gzip (and zlib) Content-Encoding, bounded in output size.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kettle::net {

enum class GunzipStatus { ok, too_large, corrupt };

// Inflates `compressed` (gzip or zlib framing, concatenated gzip members
// allowed) into `out`; stops with too_large once the output would exceed
// `limit` bytes, corrupt on bad or truncated data.
GunzipStatus gunzip(std::string_view compressed, std::size_t limit, std::string& out);

}  // namespace kettle::net
