print("labvisor-bench")
