// gzip helpers shared by the services: GCS transcoding, gzip request bodies,
// BigQuery load data.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fakegcp {

// True when the bytes start with the gzip magic number (1f 8b).
bool looks_gzipped(std::string_view bytes);

// Inflates gzip (possibly several concatenated members); nullopt when corrupt
// or truncated.
std::optional<std::string> gunzip(std::string_view in);

}  // namespace fakegcp
