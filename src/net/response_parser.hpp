// Internal: the Beast parser a response is read with, set up with the
// attempt's limits. Connection feeds it from a socket; tests and the fuzz
// target feed it bytes, so both read responses with the same settings.
#pragma once

#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <optional>

#include "connection.hpp"
#include "kettle/net/message.hpp"

namespace kettle::net::detail {

using ResponseParser = boost::beast::http::response_parser<boost::beast::http::string_body>;

// A fresh parser for the next response of a request (after a 1xx interim one
// too): the attempt's body and header limits; no body after a HEAD request.
void start_response(std::optional<ResponseParser>& parser, const Limits& limits, bool head_request);

// 1xx answers other than 101 are interim: the real response follows them.
inline bool is_interim_status(int status) { return status >= 100 && status < 200 && status != 101; }

// The connection may carry another request after this complete response.
bool keeps_alive(const ResponseParser& parser);

// The complete message as a Response (body not yet gzip-decoded); empties the parser.
Response take_response(ResponseParser& parser);

}  // namespace kettle::net::detail
