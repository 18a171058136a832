#include "response_parser.hpp"

#include <algorithm>
#include <cstdint>

namespace kettle::net::detail {

void start_response(std::optional<ResponseParser>& parser, const Limits& limits, bool head_request) {
  parser.emplace();
  // Beast's own default body limit is 8 MiB: every response gets ours.
  parser->body_limit(limits.body_limit);
  parser->header_limit(
      static_cast<std::uint32_t>(std::min<std::size_t>(limits.header_limit, UINT32_MAX)));
  if (head_request) parser->skip(true);
}

bool keeps_alive(const ResponseParser& parser) {
  return parser.get().keep_alive() && !parser.need_eof();
}

Response take_response(ResponseParser& parser) {
  auto msg = parser.release();
  Response out;
  out.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) out.headers.add(field.name_string(), field.value());
  out.body = std::move(msg.body());
  return out;
}

}  // namespace kettle::net::detail
