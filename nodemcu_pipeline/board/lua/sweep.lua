-- Run at the start of every session (../files.py): end an upload through literal lines that was
-- cut off (it left its receiver defined and echo off: uart.PARITY_NONE is 0, STOPBITS_1 1), then
-- remove the temporary files of ours that an upload cut off by a killed process or a reset left
-- behind, and only those (~up and six hex digits, files._free_name). Prints R and each name. One
-- line: it fits one stored piece and the runner.
if _plE then pcall(_plE,false) uart.setup(0,115200,8,0,1,1) end
for n in pairs(file.list()) do
if n:find('^~up%x%x%x%x%x%x%.tmp$') then file.remove(n) print('R',n) end
end
