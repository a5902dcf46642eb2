/* placeholder: the CLI is being written */
int main(void) { return 0; }
