// The metadata server of GCE/GKE: tokens of the machine's service account.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kettle/auth/config.hpp"
#include "kettle/auth/credentials.hpp"
#include "kettle/net/http_client.hpp"

namespace kettle::auth {

// The base URL of a metadata host as GCE_METADATA_HOST names it ("host",
// "host:port", or a full http:// URL); nullopt when empty or unparsable.
std::optional<std::string> metadata_base_url(std::string_view host);

// Whether a metadata server answers at `base_url`: one short try
// (config.probe_timeout) whose answer must carry Metadata-Flavor: Google.
boost::asio::awaitable<bool> metadata_server_answers(net::HttpClient& client, std::string base_url,
                                                     Config config = {});

// Cached credentials fetching
// base_url/computeMetadata/v1/instance/service-accounts/default/token.
std::shared_ptr<Credentials> make_metadata_credentials(net::HttpClient& client,
                                                       std::string base_url, Config config = {});

}  // namespace kettle::auth
