#define BOOST_TEST_MODULE kettle
#include <boost/test/unit_test.hpp>
