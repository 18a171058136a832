// zlib (RFC 1950) streams as stored in file.data (SPEC §4).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kettle::store {

std::string zlib_compress(std::string_view data, int level = 6);

// nullopt when `data` is not a complete zlib stream or inflates beyond max_size.
std::optional<std::string> zlib_decompress(std::string_view data, size_t max_size = size_t{1} << 31);

}  // namespace kettle::store
