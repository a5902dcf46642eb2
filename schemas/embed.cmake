# Turns every schema file into a C string in one generated source file, so
# the binary carries the exact bytes under schemas/ (no copies to drift).
# Inputs: OUT (file to write), ROOT (schemas dir), FILES (list), and
# optionally TABLE (the array's name; default scim_embedded_files).
string(REPLACE "," ";" FILES "${FILES}")
if(NOT TABLE)
  set(TABLE scim_embedded_files)
endif()
set(body "/* generated from schemas/ by schemas/embed.cmake; do not edit */\n")
string(APPEND body "#include <stddef.h>\n#include \"schemas/scim_embedded.h\"\n")
set(table "")
set(i 0)
foreach(f ${FILES})
  file(RELATIVE_PATH rel ${ROOT} ${f})
  file(READ ${f} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR n "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "static const char f${i}[] = {${hex}0x00};\n")
  string(APPEND table "  {\"${rel}\", f${i}, ${n}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "const scim_embedded_file_t ${TABLE}[] = {\n${table}  {NULL, NULL, 0}\n};\n")
file(WRITE ${OUT} "${body}")
