// The one translation unit that compiles Boost.URL: header-only, so the binary
// needs no libboost_url at run time.
#include <boost/url/src.hpp>
