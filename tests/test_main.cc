// The Catch2 runner for kvtier-tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
