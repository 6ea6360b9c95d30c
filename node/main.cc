#include "node/cli.h"

int main(int argc, char** argv) { return fieldsync::node::Main(argc, argv); }
