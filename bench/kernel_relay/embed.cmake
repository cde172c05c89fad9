# Writes the object file IN as a C++ array (kRelayBpf) into OUT: the program carries its BPF object.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE ${OUT} "// Generated from relay.bpf.o by embed.cmake: do not edit.\nalignas(8) static const char kRelayBpf[] = {${bytes}};\n")
