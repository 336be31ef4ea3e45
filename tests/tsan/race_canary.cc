// TSan build only: a deliberate data race. CTest passes when TSan reports it
// (tests/tsan/CMakeLists.txt), so the tier fails if TSan is not really on.
#include <thread>

int main() {
  int shared = 0;
  std::thread other([&shared] { shared = 1; });
  shared = 2;
  other.join();
  return shared == 0 ? 1 : 0;
}
