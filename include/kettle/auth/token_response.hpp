// Reading the OAuth token answer of a token endpoint or metadata server.
#pragma once

#include <chrono>
#include <string>

#include "kettle/auth/token_cache.hpp"
#include "kettle/net/message.hpp"

namespace kettle::auth {

// {"access_token": "...", "expires_in": 3599, "token_type": "Bearer"} into a
// token obtained at `now`; `default_lifetime` when expires_in is absent.
// A non-200 status (with the server's error and error_description, or an
// excerpt of an HTML page), a body that is not JSON or lacks access_token is
// an Error naming `url`. Error messages never contain a token.
net::Result<AccessToken> parse_token_response(const net::Response& response, const std::string& url,
                                              std::chrono::system_clock::time_point now,
                                              std::chrono::seconds default_lifetime);

// The retry policy of one token request: the HTTP client's (its backoff, its
// total time and --max-attempts) with no more than `max_attempts` attempts,
// so a token fetch never tries more often than the requests waiting for it.
net::RetryConfig token_retry(const net::RetryConfig& client_policy, int max_attempts);

}  // namespace kettle::auth
