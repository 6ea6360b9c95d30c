#include "hub/cli.h"

int main(int argc, char** argv) { return fieldsync::hub::Main(argc, argv); }
